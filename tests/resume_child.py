"""A build process to kill: `python resume_child.py DATABASE_URL OUT POINT [SPEC]`.

Runs the scripted build of SPEC (examples/trip_planner.md unless given; test_replay.py's)
and kills itself
with SIGKILL (as `kill -9` would: nothing is cleaned up, nothing flushed) at
POINT:

- `between`: when the design stage has been approved, before prompt design;
- `inside`: in the testing stage, as the system's second example starts;
- `logging`: while the log writer is writing the batch that holds the
  testing stage's verdict: its transaction is open and never commits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from scripted_build import InProcessRunner, build_model

from autogenesis.build.orchestrator import Build, BuildOptions, Progress, Seams
from autogenesis.store import Store
from autogenesis.store.writer import LogWriter

REPO = Path(__file__).resolve().parents[1]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, out: str, point: str, spec_name: str = "trip_planner.md") -> None:
    runner = InProcessRunner()

    def progress(event: Progress) -> None:
        if point == "between" and event.stage == "design" and event.status == "approved":
            die()

    if point == "inside":
        example = runner.example

        def dying_example(*args, **kwargs):
            if len(runner.examples) == 1:
                die()
            return example(*args, **kwargs)
        runner.example = dying_example  # type: ignore[method-assign]

    if point == "logging":
        write = LogWriter._write

        def dying_write(self, records):
            if any(r.table == "verdicts" and getattr(r, "stage", "") == "testing"
                   for r in records):
                assert self._conn is not None
                with self._conn.transaction():   # the batch goes in a savepoint of a
                    write(self, records)         # transaction that never commits
                    die()
            return write(self, records)
        LogWriter._write = dying_write  # type: ignore[method-assign]

    with Store(url, spool_dir=Path(out) / "spool") as store:
        build = Build(store, build_model(), options=BuildOptions(out_dir=Path(out) / "out"),
                      seams=Seams(runner=runner), progress=progress)
        spec = (REPO / "examples" / spec_name).read_text()
        asyncio.run(build.run(spec, spec_path=f"examples/{spec_name}", name=spec_name[:-3]))
    sys.exit(3)  # the kill point was never reached


if __name__ == "__main__":
    main(*sys.argv[1:5])
