"""Examples a spec gives: an input and the outcome it expects.

People write them every way: `Input: x` / `Expected: y` on one line or two,
`x -> y` in a list, `Example: "x" -> y` at the end of a paragraph,
`Example question: "x"` with `Expected answer: y` below it, 'given "x" it
should y', a heading per example, YAML, and in other languages (`Entrée :`,
`Attendu :`). Each becomes (input, expected), expected "" when none is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

ARROW = re.compile(r"\s*(?:->|→|=>|⟶|⇒)\s*")
EXAMPLE_LEAD = re.compile(
    r"^\s*(?:for\s+(?:example|instance)\s*:\s*|(?:an?\s+)?(?:example|exemple|beispiel|"
    r"ejemplo|e\.g\.)\s*(?:\d+\s*)?(?:(?:input|request|question|message|task|prompt|case|"
    r"spec|call)\s*)?[:—–.]\s*)", re.I)
INPUT_LABEL = re.compile(
    r"^\s*(?:example\s+)?(?:input|question|request|message|task|user|prompt|entrée|entree|"
    r"eingabe|entrada)\s*:\s*", re.I)
EXPECTED_LABEL = re.compile(
    r"(?:^|\s)(?:expected(?:\s+(?:outcome|output|answer|result|reply))?|output|answer|"
    r"outcome|result|attendu|erwartet|esperado)\s*:\s*", re.I)
GIVEN = re.compile(
    r"\bgiven\s+[\"“']([^\"”']+)[\"”'],?\s+(?:the\s+\w+|it|they|the system)?\s*"
    r"(?:should|must|will)\s+(.+)", re.I | re.S)
IN_SENTENCE = re.compile(r"(?:^|(?<=[.!?])\s+)((?:for\s+)?(?:example|e\.g\.)\b[^:.]{0,24}:\s*.+)$",
                         re.I)


MENTIONED = re.compile(r"\b(?:for example|for instance|e\.g\.),?\s+[\"“]([^\"”]{3,})[\"”]", re.I)


def unquote(text: str) -> str:
    text = " ".join(text.split()).strip()
    if len(text) >= 2 and text[0] in "\"'“‘`" and text[-1] in "\"'”’`":
        text = text[1:-1]
    return text.strip()


def plain(text: str) -> str:
    """Text without markdown emphasis, with template braces broken apart: spec text is
    data, and must never read as a placeholder where it lands."""
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])[*_]([^*_\n]+)[*_](?![\w*])", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return re.sub(r"([{}%])(?=[{}%])", r"\1 ", text).strip()


def parse_example(text: str) -> tuple[str, str]:
    """One example written on its own: labelled, with an arrow, or just an input."""
    text = EXAMPLE_LEAD.sub("", plain(text), count=1)
    text = INPUT_LABEL.sub("", text, count=1)
    expected = EXPECTED_LABEL.search(text)
    if expected:
        given = ARROW.sub(" ", text[:expected.start()]).strip()
        return unquote(given.rstrip(" ,;")), " ".join(text[expected.end():].split())
    parts = ARROW.split(text, maxsplit=1)
    if len(parts) == 2:
        return unquote(parts[0]), " ".join(parts[1].split())
    return unquote(text), ""


def is_example_line(line: str) -> bool:
    return bool(EXAMPLE_LEAD.match(line) or INPUT_LABEL.match(line))


def examples_in_lines(lines: list[str]) -> Iterator[tuple[list[int], tuple[str, str]]]:
    """(indices of its lines, example) for every example started in `lines`; a line
    "Expected: ..." completes the example begun on the line before it."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if is_example_line(line):
            used = [i]
            if (i + 1 < len(lines) and EXPECTED_LABEL.match(lines[i + 1])
                    and not EXPECTED_LABEL.search(line) and not ARROW.search(line)):
                line = f"{line} {lines[i + 1]}"
                i += 1
                used.append(i)
            yield used, parse_example(line)
        i += 1


def given_examples(text: str) -> list[tuple[str, str]]:
    return [(unquote(m.group(1)), " ".join(m.group(2).split()).rstrip("."))
            for m in GIVEN.finditer(text)]
