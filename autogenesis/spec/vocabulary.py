"""The words the spec reader knows: who can be an agent, what a duty says about a role,
which words state a topology. Kept apart from the reading logic so that both can be
read (and extended) on their own.
"""

from __future__ import annotations

import re

from autogenesis.spec.names import doer


def wordset(text: str) -> frozenset[str]:
    """The words of a block of text: vocabularies stay readable as prose."""
    return frozenset(text.split())


ROLES = ("worker", "approver", "manager", "router", "aggregator", "monitor")
"""What an agent does in its system, as `autogenesis plan` reports it."""

ROLE_MARKERS = {
    "worker": "worker", "specialist": "worker", "member": "worker", "expert": "worker",
    "approver": "approver", "reviewer": "approver", "validator": "approver",
    "critic": "approver", "checker": "approver", "gatekeeper": "approver",
    "manager": "manager", "lead": "manager", "leader": "manager", "supervisor": "manager",
    "coordinator": "manager", "orchestrator": "manager", "boss": "manager",
    "router": "router", "dispatcher": "router", "triage": "router", "classifier": "router",
    "aggregator": "aggregator", "chair": "aggregator", "moderator": "aggregator",
    "judge": "aggregator", "arbiter": "aggregator",
    "monitor": "monitor", "watchdog": "monitor", "observer": "monitor", "logger": "monitor",
}
"""A role named outright, e.g. `- producer agent (approver): ...` or a table's role column."""

# Nouns that name someone who does work: an agent when a clause has it as subject.
ROLE_NOUNS = wordset("""
agent bot assistant helper worker specialist expert analyst strategist economist historian
librarian consultant secretary clerk officer chief head lead leader chair chairperson judge
critic jury scout curator mentor tutor coach host guide desk accountant technician engineer
architect auditor receptionist concierge chef cook nurse paralegal partner panel monitor
watchdog auctioneer broker contractor freelancer controller operator dispatcher moderator
supervisor approver commander captain steward proofreader copywriter matchmaker
""")
"""Agent nouns that are not simply the doer of a work verb (those are below)."""

WORK_VERBS = wordset("""
write review check plan research summarise summarize translate edit draft design develop
code program test build deploy integrate schedule book price measure describe match parse
score grade rate rank collect gather extract format verify validate approve control report
interview recruit screen investigate diagnose communicate command watch monitor estimate
forecast track allocate assign route dispatch classify explain solve teach proofread read
transcribe convert scale taste bake name moderate curate publish announce negotiate bid
manage coordinate supervise organise organize analyse analyze advise recommend find search
fetch load clean sort filter label tag caption illustrate present narrate produce direct
audit inspect compute calculate count map optimise optimize predict detect flag alert notify
remind send deliver pack pick quote invoice explore compose compile generate create make
brainstorm propose suggest select choose decide rewrite shorten polish style print archive
update maintain fix repair debug refactor document train tune evaluate compare aggregate
merge combine vote tally time cut shuffle outline answer handle transcribe observe log plan
""")
DOERS = frozenset(doer(v) for v in WORK_VERBS) | {"controller", "booker", "writer", "reader"}

NOT_AGENTS = wordset("""
user customer client owner buyer consumer provider teacher student parent patient member
visitor traveller traveler passenger driver employer employee manufacturer supplier vendor
player viewer listener audience person people human staff team company family friend
newsletter computer number order paper letter answer other water folder header footer
border corner matter chapter register parameter winner container server browser printer
error colour color factor sector vector floor door mirror motor author character filter
layer cluster poster banner manner power offer transfer timer trigger buffer system
""")
"""Nouns that look like agent nouns but name people the system serves, or things."""


def agent_noun(word: str) -> bool:
    """`word` (lower case) names someone who does work: a role noun, or the doer of a
    work verb, alone or at the end of a compound ("copywriter", "proofreader")."""
    if word in NOT_AGENTS:
        return False
    if word in ROLE_NOUNS or word in DOERS:
        return True
    return len(word) > 7 and any(word.endswith(d) for d in DOERS if len(d) >= 5)


# What a duty says about an agent's role, checked in this order (the first that matches
# decides): a router steers, a vote makes an aggregator, handing out work makes a
# manager, combining answers makes an aggregator, sending work back makes an approver.
ROLE_DUTIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern, re.I)) for role, pattern in (
        ("router", r"\b(?:rout(?:es|ing)\b|dispatch|triage|decides? (?:which|where|who)|"
                   r"(?:especialista|spécialiste|spezialist)|"
                   r"picks? the (?:right |best )?(?:specialist|team|desk|agent|expert)|"
                   r"chooses? (?:the|which|one) (?:specialist|team|desk|agent|expert)|"
                   r"sends? (?:each|every) \w+ to (?:the right|one|exactly one))"),
        ("aggregator", r"\b(?:votes?\b|voting|tall(?:y|ies)|majority|"
                       r"declares? the (?:winner|strongest|best)|announces? the winner)"),
        ("manager", r"\b(?:supervis|manag(?:es|ing)\b|delegat|splits?\b|assigns?\b|"
                    r"gives? (?:each|every) [\w-]+(?: [\w-]+)? to\b|"
                    r"hands? (?:out|one|each|the work|(?:the |its )?(?:[\w-]+ ){1,3}to (?:each|"
                    r"every|all|the \w+s\b|\w+ \w+s\b))|"
                    r"distribut|coordinat|"
                    r"announces? (?:it|each|the \w+|every \w+) to|awards?\b|oversees)"),
        ("aggregator", r"\b(?:collects? (?:the |all )?(?:\w+ )?(?:answers|votes|proposals|"
                       r"results|bids|scores|opinions|reviews)|averag|combin(?:es|ing)\b|"
                       r"merg(?:es|ing)\b|aggregat|consolidat)"),
        ("approver", r"\b(?:approv|approuv|signs? (?:\w+ )?off|rejects?\b|renvoie|"
                     r"asks? (?:the |a )?[\w-]+(?: agent)? to (?:swap|redo|rewrite|revise|fix|"
                     r"correct|change|replace|re-?\w+)\b|"
                     r"(?:sends?|returns?|hands?|gives?|passes?) (?:it|them|the \w+|"
                     r"any \w+|\w+)? ?back\b|returns? (?:it|them|the \w+) to\b)"),
        ("monitor", r"\b(?:notes?|records?|logs?|reports?|watches|tracks?) (?:any|every|each|"
                    r"which|the) \w+ (?:that|who|which) (?:fails?|crash|times? out|"
                    r"takes? longer|does not answer|stops)"),
    ))
ROLE_NAMES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern)) for role, pattern in (
        ("router", r"^(?:router|dispatcher|triage)$"),
        ("monitor", r"^(?:monitor|watchdog|observer)$"),
        ("manager", r"^(?:manager|lead|leader|chief|commander|coordinator|supervisor|boss|"
                    r"auctioneer|broker)$"),
        ("aggregator", r"^(?:chair|moderator|judge|aggregator)$"),
        ("approver", r"^(?:approver|reviewer|critic|gatekeeper)$"),
    ))
"""A role read from a name alone, when its duties say none: only a bare role word
("reviewer"), since a qualified one ("methods_reviewer") is usually a member."""


def role_from_duties(duties: list[str]) -> str | None:
    text = " ".join(duties)
    return next((role for role, pattern in ROLE_DUTIES if pattern.search(text)), None)


def role_from_name(name: str) -> str | None:
    return next((role for role, pattern in ROLE_NAMES if pattern.search(name)), None)


TOPOLOGY_WORDS = {
    "consensus": ("vote", "voting", "consensus", "majority", "panel", "jury", "agree"),
    "contract_net": ("bid", "bidding", "contract", "tender", "auction", "award",
                     "announce"),
    "router": ("route", "routing", "router", "triage", "classif", "dispatch"),
    "feedback_loop": ("approve", "approval", "reject", "revise", "revision", "rework",
                      "send back", "sends back", "until"),
    "hierarchy": ("manager", "delegat", "subtask", "sub-task", "assign", "coordinat", "split",
                  "hierarch"),
    "pipeline": ("pipeline", "in turn", "hands over", "passes"),
}
TOPOLOGY_ALIASES = {
    "contract net": "contract_net", "contract-net": "contract_net",
    "contractnet": "contract_net", "auction": "contract_net", "voting": "consensus",
    "vote": "consensus", "panel": "consensus", "feedback loop": "feedback_loop",
    "feedback-loop": "feedback_loop", "feedback": "feedback_loop", "loop": "feedback_loop",
    "review loop": "feedback_loop", "sequential": "pipeline", "chain": "pipeline",
    "hierarchical": "hierarchy", "manager": "hierarchy", "routing": "router",
    "triage": "router",
}

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "once": 1,
                "twice": 2, "thrice": 3, "a": 1, "an": 1}


def number(word: str) -> int | None:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)
