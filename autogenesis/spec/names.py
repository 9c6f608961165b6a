"""Names from spec words: agent names, slugs, and the doer of a verb.

A name reaches Python identifiers, bus addresses, database rows and templates,
so it is made once here, from the spec's own words: folded to ASCII (anyascii
transliterates every script, so `réceptionniste` -> `receptionniste` and
`оператор` -> `operator`), lower case, words joined by `_`, at most 40
characters. A phrase that yields no name gives None, and the caller says so:
a name is never dropped silently.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from anyascii import anyascii

from autogenesis.config import AGENT_NAME_MAX

MAX_NAME = AGENT_NAME_MAX

ARTICLES = frozenset(("a", "an", "the", "my", "our", "your", "their", "its", "his", "her",
                      "this", "that", "these", "those", "one", "each", "every"))
TRAILING = frozenset(("agent", "agents", "bot", "bots"))
NOT_NAMES = frozenset([
    "a", "an", "the", "one", "another", "other", "each", "every", "any", "some", "single",
    "multi", "multiple", "new", "same", "different", "first", "second", "third", "fourth",
    "fifth", "last", "final", "next", "previous", "entry", "exit", "main", "llm", "ai",
    "helper", "agent", "agents", "bot", "assistant", "worker", "expert", "specialist",
    "member", "this", "that", "which", "who", "system", "input", "expected", "output",
    "example", "examples", "answer", "task", "it", "they", "he", "she", "team", "step",
])
"""Words that stand where a name would but never are one (a name of them is None)."""


def words_of(text: str) -> list[str]:
    """`text` folded to ASCII, lower case, as words of letters and digits. Symbols (emoji,
    arrows) are dropped before transliteration, which would spell them out."""
    letters = "".join(" " if unicodedata.category(c).startswith("S") else c for c in text)
    letters = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", letters)   # ResearchAgent: two words
    return re.findall(r"[a-z0-9]+", anyascii(letters).lower().replace("'s ", " "))


def to_name(text: str) -> str | None:
    """A safe agent name from spec text ("the Triage Agent" -> "triage",
    "editor-in-chief" -> "editor_in_chief"), or None when the text holds none."""
    words = words_of(re.sub(r"[*`_]+", " ", text))
    while words and words[0] in ARTICLES:
        words.pop(0)
    while len(words) > 1 and words[-1] in TRAILING:
        words.pop()
    name = "_".join(words)[:MAX_NAME].strip("_")
    if not name or not name[0].isalpha() or name in NOT_NAMES:
        return None
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name}_agent"
    return name


def slugify(text: str, *, limit: int = MAX_NAME) -> str | None:
    """A package name from a title ("Équipe éditoriale" -> "equipe_editoriale"), or None."""
    slug = "_".join(words_of(text))[:limit].strip("_")
    if not slug:
        return None
    return slug if slug[0].isalpha() else f"system_{slug}"[:limit].strip("_")


def singular(noun: str) -> str:
    """English plural -> singular for the nouns that name agents' work ("schedules" ->
    "schedule", "queries" -> "query"); a word not ending in s is returned as it is."""
    if len(noun) <= 3 or not noun.endswith("s") or noun.endswith(("ss", "us", "is", "news")):
        return noun
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("ches", "shes", "xes", "sses", "zes")):
        return noun[:-2]
    return noun[:-1]


_DOERS = {"edit": "editor", "audit": "auditor", "supervise": "supervisor",
          "advise": "advisor", "monitor": "monitor", "keep": "keeper", "run": "runner",
          "sell": "seller", "answer": "answerer", "visit": "visitor"}


def doer(verb: str) -> str:
    """The agent noun of a verb: write -> writer, plan -> planner, integrate -> integrator,
    notify -> notifier, collect -> collector, deploy -> deployer."""
    verb = verb.lower()
    if verb in _DOERS:
        return _DOERS[verb]
    if verb.endswith(("ate", "ct")):
        return verb[:-1] + "or" if verb.endswith("ate") else verb + "or"
    if verb.endswith("e"):
        return verb + "r"
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in "aeiou":
        return verb[:-1] + "ier"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgmnpt]", verb):  # plan, ship, map: one short syllable
        return verb + verb[-1] + "er"
    return verb + "er"


def verb_of(word: str) -> str:
    """The base form of a third-person verb: writes -> write, books -> book,
    classifies -> classify, pushes -> push."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
