"""A team for a spec that names no agent, built from the spec's own words.

Specs written as challenges ("A veterinary clinic needed a system to manage pet
records, vaccination reminders, and billing for visits") name no agents. What
they enumerate are the responsibilities: each item of the enumeration becomes
one agent, named from the item's words and its verb as a role ("plans delivery
routes" -> `route_planner`, "keep track of deadlines" -> `deadline_tracker`,
"manage pet records" -> `pet_record_manager`, "automate overdue notices" ->
`overdue_notice`). The model may propose agents only where the enumeration
gives fewer than three, and only names built from the spec's words or role
words pass (`name_from_spec`): never a string the model made up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autogenesis.spec.examples import plain
from autogenesis.spec.names import doer, singular, verb_of, words_of
from autogenesis.spec.prose import sentences
from autogenesis.spec.vocabulary import DOERS, ROLE_MARKERS, ROLE_NOUNS, WORK_VERBS, wordset

GENERIC_VERBS = wordset("""automate handle do support help cover provide offer deal take
streamline improve simplify run""")
_PRONOUNS = frozenset(("it", "them", "these", "those", "this", "that"))
_ARTICLES = frozenset(("a", "an", "the", "each", "every", "all", "its", "their", "our", "my",
                       "any", "some", "several", "new"))
_LIST = re.compile(
    r"\b(?:to|that|which|who|must|should|can|will|wants?\s+to|needs?\s+to|help\s+to)\s+"
    r"(?P<items>[a-z][^.;:()]*?,[^.;:()]*?\band\s+[^.;:()]+)", re.I)
_PREPOSITION = re.compile(r"\s+(?:for|about|across|from|to|into|of|with|on|in|at|by|until|"
                          r"without|so|that|when|while|within|before|after)\s.*$", re.I)


@dataclass(frozen=True)
class Responsibility:
    name: str
    duty: str


VERBS = WORK_VERBS | GENERIC_VERBS | frozenset(("give", "keep", "remind"))
"""Verbs that start a responsibility ("plans delivery routes", "keep track of ...")."""


def _item(item: str, shared_verb: str | None) -> Responsibility | None:
    """One enumerated responsibility as an agent: name from its object and verb."""
    words = item.strip().split()
    if not words:
        return None
    first = verb_of(words[0])
    verb = first if first in VERBS else None
    rest = words[1:] if verb else words
    if verb is None:
        verb = shared_verb
    text = " ".join(rest)
    keep_track = re.match(r"^track\s+of\s+(.+)$", text, re.I)
    if verb == "keep" and keep_track:            # "keep track of deadlines"
        verb, text = "track", keep_track.group(1)
    for_what = re.search(r"\bfor\s+([\w-]+(?:\s+[\w-]+)?)", text, re.I)
    obj = [w for w in words_of(_PREPOSITION.sub("", text)) if w not in _ARTICLES]
    if obj and obj[0] in _PRONOUNS:                # "checks them for accessibility"
        obj = words_of(for_what.group(1)) if for_what and verb != "translate" else []
    obj = [w for w in obj if w not in _PRONOUNS and not w.isdigit()]
    if not obj and first not in VERBS:
        return None     # ", all within two weeks": a qualifier, not a responsibility
    head = [*obj[-2:-1], singular(obj[-1])] if obj else []
    if verb is None or verb in GENERIC_VERBS:
        parts = head
    else:
        parts = [*head[-1:], doer(verb)] if head else [doer(verb)]
    name = "_".join(parts)[:40].strip("_")
    duty = f"{verb} {text}".strip() if verb and verb not in words[0].lower() else item
    return Responsibility(name, " ".join(duty.split())) if name else None


def enumerated(text: str) -> list[Responsibility]:
    """The responsibilities of the first sentence that enumerates at least two."""
    for sentence in sentences(plain(text)):
        sentence = re.split(r",?\s+(?:so that|so|because|while|whereas|such that|in order to)\s",
                            sentence)[0]
        for match in _LIST.finditer(sentence):
            items = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", match.group("items"))
            items = [i for i in items if i.strip()]
            if len(items) < 2:
                continue
            before = sentence[:match.start("items")].split()
            shared = verb_of(before[-1]) if before and verb_of(before[-1]) in VERBS else None
            lead = verb_of(items[0].split()[0])
            if shared is None and lead in VERBS and any(
                    verb_of(i.split()[0]) not in VERBS for i in items[1:]):
                shared = lead            # "to manage pet records, vaccination reminders, ..."
                items[0] = items[0].split(None, 1)[1] if " " in items[0] else items[0]
            found: list[Responsibility] = []
            for item in items:
                responsibility = _item(item, shared)
                if responsibility and all(r.name != responsibility.name for r in found):
                    found.append(responsibility)
            if len(found) >= 2:
                return found
    return []


def allowed_words(spec: str) -> set[str]:
    """Words a name may be built from: the spec's words (and their singulars and doers)
    and the role words every team uses."""
    words = set(words_of(spec))
    allowed = words | {singular(w) for w in words}
    allowed |= {doer(verb_of(w)) for w in words if verb_of(w) in VERBS or w in VERBS}
    return allowed | set(ROLE_NOUNS) | set(ROLE_MARKERS) | DOERS


def name_from_spec(name: str, spec: str) -> bool:
    """Every word of `name` comes from the spec or is a role word."""
    allowed = allowed_words(spec)
    return bool(name) and all(part in allowed for part in name.split("_") if part)
