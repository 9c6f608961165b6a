"""`autogenesis worker`: serve some of the build's agents over MQTT for any build."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from autogenesis.cli.options import BACKEND_HELP, MODEL_HELP
from autogenesis.config import Settings
from autogenesis.errors import ConfigError

if TYPE_CHECKING:
    from autogenesis.bus import Message
    from autogenesis.store import Store

AGENTS = ("understanding", "design", "prompt_design", "generator", "testing", "tuning",
          "documentation", "deployment", "feedback", "approver")
"""The agents a worker can serve, for --help: `autogenesis.build.stages.AGENTS`, copied so that
the CLI starts without importing the build (tests/test_cli.py checks that they agree)."""

BUS_HELP = ("The MQTT broker: mqtt://user:password@host:port/prefix (only the host is "
            "required), mqtts:// for TLS. Default: AUTOGENESIS_MQTT_URL.")


def bus_url(given: str | None) -> str:
    """The broker to use: `given`, else AUTOGENESIS_MQTT_URL; ConfigError when neither."""
    url = given or Settings.from_env().mqtt_url
    if not url:
        raise ConfigError("workers talk over an MQTT broker: give --bus "
                          "mqtt://host:1883 or set AUTOGENESIS_MQTT_URL")
    return url


def worker(
    agents: str = typer.Option("all", "--agents", "-a",
                               help=f"Comma-separated agents to serve: {', '.join(AGENTS)}; "
                               "or all."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    backend: str | None = typer.Option(None, "--backend", "-b", help=BACKEND_HELP),
    bus: str | None = typer.Option(None, "--bus", help=BUS_HELP),
) -> None:
    """Serve AGENTS of the build for any `autogenesis build --bus` on the same broker,
    with this process's own model, until stopped (Ctrl-C or SIGTERM).

    Several workers may serve the same agent: each request goes to one of them. A worker
    announces itself on the broker and keeps doing so; when it dies with a request the
    build sends that request to another worker. Everything is logged to the same
    PostgreSQL as the build (AUTOGENESIS_DATABASE_URL; the embedded server is shared
    only by processes on one machine).
    """
    import asyncio

    from autogenesis.build.worker import parse_agents
    from autogenesis.store import Store

    names = parse_agents(agents)
    url = bus_url(bus)
    err = Console(stderr=True, soft_wrap=True)
    with Store.open() as store:
        asyncio.run(_serve(store, names, url, err, model, backend))


async def _serve(store: Store, names: list[str], url: str, err: Console, model: str | None,
                 backend: str | None) -> None:
    """Connect (a broker problem shows before the model loads), load the model, serve."""
    import asyncio

    from autogenesis.build.scenarios import SandboxRunner
    from autogenesis.build.worker import Worker
    from autogenesis.bus import Bus
    from autogenesis.bus.mqtt import MqttTransport
    from autogenesis.llm.loader import load_model
    from autogenesis.llm.served import ModelServer

    transport = MqttTransport(url, role="worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def served(agent: str, message: Message, seconds: float) -> None:
        run = message.run_id.hex[:8] if message.run_id else "-"
        err.print(f"run {run}  {agent:<14} {message.kind:<8} {seconds:6.1f}s",
                  highlight=False)

    async with Bus(store, transport=transport) as bus:
        started = time.perf_counter()
        with err.status("loading the model..."):
            loaded = await asyncio.to_thread(load_model, model, backend=backend)
        err.print(f"[dim]{loaded.identity.backend} {Path(loaded.identity.model_id).name} "
                  f"loaded in {time.perf_counter() - started:.1f}s[/]")
        # The sandboxed runs of the system ask this process's model (the deployment check's
        # venv holds no model backend); one at a time, as the coordinator logged.
        async with ModelServer(loaded) as lent:
            worker = Worker(store, loaded, names, served=served,
                            runner=lambda s: SandboxRunner(s.sandbox_model, s.sandbox_backend,
                                                           lent.url, overlap=False))
            try:
                await worker.attach(bus)
                err.print(f"serving {', '.join(names)} on {transport.settings.where} as node "
                          f"{transport.node}; Ctrl-C stops", highlight=False)
                await stop.wait()
            finally:
                worker.close()
    store.flush()
    err.print(f"stopped after {worker.handled} request(s)", highlight=False)
