"""Checks for prose the model writes outside a system's answers: few-shot examples,
the documentation's overview and agent summaries. A small model's prose fails in three
ways a rule can see:

- it repeats itself (a phrase of four words said three times, or fewer than half its
  words distinct);
- it echoes its prompt: a run of `ECHO_WORDS` words that is in the prompt it was given
  but not in what the spec says (labels such as "Duties:" glued to the duties, or the
  instructions read back);
- it claims what the spec does not say: most of its content words (at least
  `UNSUPPORTED_MIN`) appear nowhere in the spec's words (title, goal, duties, names,
  examples; for a sentence about one agent, only its own duties) nor among the few words
  any description of such a system uses; or, about one agent, it shares more words with
  another agent's duties than with its own.

Text that fails is replaced by the spec's own words by whoever wrote it; the approver
runs the same checks on what was kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from autogenesis.artefacts import Blueprint

ECHO_WORDS = 6
UNSUPPORTED_MIN = 3
_STOP = frozenset(re.findall(r"\w+", """about after also and any are because been before
being both but can does each either every from given have into just more most must only
other over should some such than that their them then there these they this those through
under very what when where which while will with within would your yours the for its one
two three who whom whose how why all not yes was were has had may might our out own same
so too use used uses using well"""))
GENERIC = frozenset(re.findall(r"\w+", """agent agents system systems team teams task tasks
answer answers answering reply replies input inputs output outputs result results user
users people person helps help helping works work working together step steps part parts
job jobs role roles request requests question questions message messages final first last
next each takes take gives give makes make passes pass sends send receives receive returns
return writes write reads read checks check based written short clear simple plain local
model models language based named called""")) | _STOP


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'-]*", text.lower())


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s", "ed", "ing", "er", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def repetition(text: str) -> str | None:
    """Why `text` repeats itself, or None."""
    said = words(text)
    grams = [" ".join(said[i:i + 4]) for i in range(len(said) - 3)]
    if any(grams.count(g) >= 3 for g in set(grams)):
        return "it repeats a phrase"
    if len(said) >= 20 and len(set(said)) < len(said) / 2:
        return "fewer than half its words are distinct"
    return None


def _grams(said: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(said[i:i + n]) for i in range(len(said) - n + 1)}


def echo(text: str, prompt: str, source: str) -> str | None:
    """A run of `ECHO_WORDS` words of `text` read back from `prompt` and not from the spec
    (`source`), or None."""
    prompted = _grams(words(prompt), ECHO_WORDS) - _grams(words(source), ECHO_WORDS)
    said = words(text)
    for i in range(len(said) - ECHO_WORDS + 1):
        if tuple(said[i:i + ECHO_WORDS]) in prompted:
            return " ".join(said[i:i + ECHO_WORDS])
    return None


def unsupported(text: str, source: str) -> list[str]:
    """The content words of `text` the spec does not use (nor any description of a system),
    when they are most of its content words and at least `UNSUPPORTED_MIN`; else []."""
    known = {_stem(w) for w in words(source)} | {_stem(w) for w in GENERIC}
    content = [w for w in words(text) if len(w) > 3 and w not in _STOP]
    new = list(dict.fromkeys(w for w in content if _stem(w) not in known))
    if len(new) >= UNSUPPORTED_MIN and len(new) > len(set(content)) / 2:
        return new
    return []


def borrowed(text: str, own: str, others: Mapping[str, str]) -> str | None:
    """The other agent whose duties `text` (about one agent, whose duties are `own`)
    shares more content words with than with its own (at least two), or None."""
    said = {_stem(w) for w in words(text) if len(w) > 3 and w not in GENERIC}
    mine = len(said & {_stem(w) for w in words(own)})
    shared = {name: len(said & {_stem(w) for w in words(duties)})
              for name, duties in others.items()}
    best = max(shared, key=lambda name: shared[name], default=None)
    return best if best is not None and shared[best] >= 2 and shared[best] > mine else None


def prose_problems(text: str, *, source: str, prompt: str = "", own: str = "",
                   others: Mapping[str, str] | None = None) -> list[str]:
    """Why `text`, written by the model, is not fit to keep (none: keep it). `source` is
    what the spec says; `prompt` what the model was given; for text about one agent,
    `own` its duties and `others` the other agents' (name -> duties)."""
    problems = []
    if others and (other := borrowed(text, own, others)) is not None:
        problems.append(f"it gives {other}'s duty")
    if (why := repetition(text)) is not None:
        problems.append(why)
    if prompt and (run := echo(text, prompt, source)) is not None:
        problems.append(f"it echoes its prompt: \"{run}\"")
    if new := unsupported(text, source):
        problems.append(f"it says what the spec does not: {', '.join(new[:6])}")
    return problems


def spec_words(blueprint: Blueprint, agent: str | None = None) -> str:
    """What the spec says, as the blueprint keeps it: the words prose about the system may
    use, or prose about one `agent` (the title, the goal and that agent's own duties: a
    sentence giving it another agent's duty says what the spec does not)."""
    agents = [a for a in blueprint.agents if agent is None or a.name == agent]
    examples = blueprint.examples if agent is None else []
    return "\n".join([blueprint.title, blueprint.goal,
                      *(f"{a.name.replace('_', ' ')}: {'; '.join(a.duties)}" for a in agents),
                      *(f"{e.input} {e.expected}" for e in examples)])


def agent_duties(blueprint: Blueprint, agent: str) -> tuple[str, dict[str, str]]:
    """(`agent`'s duties, every other agent's): what `borrowed` compares."""
    duties = {a.name: "; ".join(a.duties) for a in blueprint.agents}
    return duties.pop(agent, ""), duties


def prose_checks(text: str, blueprint: Blueprint, agent: str | None, prompt: str) -> list[str]:
    """`prose_problems` of docs text about `agent` (None: the whole system)."""
    own, others = agent_duties(blueprint, agent) if agent else ("", None)
    return prose_problems(text, source=spec_words(blueprint, agent), prompt=prompt, own=own,
                          others=others)
