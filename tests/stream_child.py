"""A process that streams messages over a logged bus until it is killed.

    python stream_child.py CONNINFO SPOOL_DIR RUN_ID ACTED_FILE

Its handler "acts" on each message by appending the message id to
ACTED_FILE with an unbuffered write, so the file survives `kill -9`: the
crash tests then check that every id in it is in the log.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from pathlib import Path
from uuid import UUID

from autogenesis.bus import Bus, Message
from autogenesis.store import Run, Store


async def stream(store: Store, run_id: UUID, acted: int) -> None:
    async def act(message: Message) -> None:
        os.write(acted, f"{message.id}\n".encode())

    async with Bus(store, max_in_flight=2_000) as bus:
        bus.attach("worker", act)
        for i in itertools.count():
            await bus.send(Message.new(run_id=run_id, sender="producer", recipient="worker",
                                       kind="job", body={"i": i}))
            if i % 50 == 0:
                await asyncio.sleep(0.001)


def main() -> None:
    conninfo, spool_dir, run_id, acted_path = sys.argv[1:5]
    store = Store(conninfo, spool_dir=Path(spool_dir))
    store.start_run(Run(kind="test", name="stream-child", id=UUID(run_id)))
    store.flush()
    acted = os.open(acted_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("streaming", flush=True)
    asyncio.run(stream(store, UUID(run_id), acted))


if __name__ == "__main__":
    main()
