"""PostgreSQL log of everything autogenesis does: runs, messages, completions,
artefacts, verdicts, events and generated files."""

from autogenesis.store.records import (
    Artefact,
    Completion,
    Event,
    GeneratedFile,
    Record,
    Run,
    Verdict,
)
from autogenesis.store.store import RunSummary, Store, StoreInfo

__all__ = [
    "Artefact", "Completion", "Event", "GeneratedFile", "Record", "Run", "RunSummary",
    "Store", "StoreInfo", "Verdict",
]
