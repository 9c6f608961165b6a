"""The one JSON text of a value, and the identities computed from it and from files.

Stable key order, compact separators, UTF-8 kept (not escaped): every message body on
the bus, every JSON column in the log, every artefact's and prompt's sha256 is computed
from this text. Changing it changes every identity in every logged run, so replay
(`autogenesis.replay`) would no longer find them: it stays as it is.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(value: Any) -> str:
    """The identity of a JSON value: the sha256 of its canonical text."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The identity of a file: the sha256 of its bytes, read in chunks (a model is GBs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
