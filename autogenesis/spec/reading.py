"""Reading a spec file: size, encoding and content checked, with one clear error each."""

from __future__ import annotations

import re
from pathlib import Path

from autogenesis.errors import SpecError

MAX_SPEC_BYTES = 256 * 1024


def read_spec(path: Path) -> str:
    """The spec's text, or a SpecError saying plainly what is wrong with the file."""
    if not path.exists():
        raise SpecError(f"spec {path} does not exist")
    if not path.is_file():
        raise SpecError(f"spec {path} is not a file")
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"spec {path} is {size // 1024} KiB; the limit is "
                        f"{MAX_SPEC_BYTES // 1024} KiB")
    return check_spec_text(path.read_bytes(), str(path))


def check_spec_text(data: bytes | str, where: str = "spec") -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{where} is larger than {MAX_SPEC_BYTES // 1024} KiB")
    if b"\x00" in data:
        raise SpecError(f"{where} is binary, not markdown text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where} is not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        raise SpecError(f"{where} is empty")
    if len(re.findall(r"[^\W\d_]{2,}", text)) < 5:
        raise SpecError(f"{where} has too few words to describe a system")
    return text
