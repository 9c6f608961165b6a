"""A worker process for the distributed build tests:
`python worker_child.py DATABASE_URL MQTT_URL AGENTS [DIE_MARKER]`.

Serves AGENTS (comma-separated) over MQTT like `autogenesis worker`, with the
scripted build model and the in-process runner of test_replay's builds (so a
build is fast and its result comparable with an in-process one). Prints
`ready` once its agents are attached.

With DIE_MARKER (a file path), the first worker to run an example of the
generated system in the testing stage creates that file and kills itself with
SIGKILL there, in the middle of the request: a worker dying mid-request.
Workers that find the file already there carry on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from scripted_build import InProcessRunner, build_model

from autogenesis.build.worker import Worker, parse_agents
from autogenesis.bus import Bus
from autogenesis.bus.mqtt import MqttTransport
from autogenesis.store import Store


def runner_factory(marker: Path | None):
    def make(settings):
        runner = InProcessRunner()
        if marker is None:
            return runner
        example = runner.example

        def dying_example(*args, **kwargs):
            try:
                with open(marker, "x"):
                    pass
            except FileExistsError:
                return example(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        runner.example = dying_example  # type: ignore[method-assign]
        return runner
    return make


async def serve(worker: Worker, mqtt_url: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Bus(worker.store, transport=MqttTransport(mqtt_url, role="worker")) as bus:
        await worker.attach(bus)
        print("ready", flush=True)
        await stop.wait()
    worker.store.flush()


def main(db_url: str, mqtt_url: str, agents: str, marker: str | None = None) -> None:
    folder = Path(os.environ.get("WORKER_TMP", "."))
    with Store(db_url, spool_dir=folder / f"spool-{os.getpid()}") as store:
        worker = Worker(store, build_model(), parse_agents(agents),
                        runner=runner_factory(Path(marker) if marker else None))
        try:
            asyncio.run(serve(worker, mqtt_url))
        finally:
            worker.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
