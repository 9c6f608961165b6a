"""The one JSON text of a value, and the identity computed from it.

Stable key order, compact separators, UTF-8 kept (not escaped): every message body on
the bus, every JSON column in the log, every artefact's and prompt's sha256 is computed
from this text. Changing it changes every identity in every logged run, so replay
(`autogenesis.replay`) would no longer find them: it stays as it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(value: Any) -> str:
    """The identity of a JSON value: the sha256 of its canonical text."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
