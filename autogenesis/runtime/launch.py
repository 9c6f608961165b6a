"""Running a generated system: its configuration, its agents, and `python -m <slug>`.

A generated package holds `config.json` (model, deadlines, and per agent its
prompt and decoding settings) and a `build(model, config)` function that
wires its agents into one of the topologies. This module does the rest, so
the generated code stays a page long: it loads the model, starts the bus
(logged to PostgreSQL unless `--no-log`), asks the system, prints the answer.

With `--bus mqtt://...` the agents may run in other processes, as the build's
agents do in `autogenesis worker`: `python -m <slug> --bus URL --serve a,b`
serves agents a and b until stopped, and `python -m <slug> "input" --bus URL`
runs the system's flow here, waits until every agent is served somewhere
(this process serves those named by its own `--serve`), and asks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from autogenesis.bus import Bus
from autogenesis.errors import AutogenesisError, UserError
from autogenesis.llm.base import Decoding, Model
from autogenesis.runtime.agent import Agent
from autogenesis.runtime.model_agent import ModelAgent, PromptConfig
from autogenesis.runtime.protocol import Task
from autogenesis.runtime.topologies import Approval, System, TestRun

Build = Callable[[Model, Mapping[str, Any]], System]
WAIT_S = 15.0
"""With --bus: how long the asking process waits for every agent to be served (--wait)."""


def load_config(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        config: dict[str, Any] = json.load(f)
    return config


def make_agent(cls: type[ModelAgent], name: str, model: Model,
               config: Mapping[str, Any]) -> ModelAgent:
    """An agent of class `cls` set up from the `agents.<name>` entry of `config`."""
    agent = config["agents"][name]
    return cls(name, model=model, prompt=PromptConfig.from_config(agent),
               settings=Decoding(max_new_tokens=agent["max_new_tokens"],
                                 temperature=agent["temperature"],
                                 seed=agent.get("seed"),
                                 repetition_penalty=agent.get("repetition_penalty", 1.0)),
               answer_words=config.get("answer_words"))


FAN_OUT = ("consensus", "hierarchy", "contract_net")
"""Topologies that ask their members at once (`System.members`)."""


MAX_SLOTS = 4
"""Sequences a system's model decodes at once, at most: each slot holds a KV cache of its
own (about 190 MB for the default model), and more members than slots take turns."""


def slots_for(config: Mapping[str, Any]) -> int:
    """How many model calls the system can have in flight: its members, where it asks them
    together (the model then decodes them in one batch); one otherwise."""
    if config.get("topology") in FAN_OUT:
        return max(1, min(len(config.get("agents", ())), MAX_SLOTS))
    return 1


def approvals(config: Mapping[str, Any]) -> dict[str, Approval]:
    return {a["worker"]: Approval(a["approver"], a["max_rounds"])
            for a in config.get("approvals", ())}


def test_runs(config: Mapping[str, Any]) -> list[TestRun]:
    """The code-and-tests pairs whose tests the system runs (config.json, "test_runs")."""
    return [TestRun(r["author"], r["tester"], r.get("rounds", 2))
            for r in config.get("test_runs", ())]


async def ask(system: System, text: str, *, store: Any = None, run_id: Any = None,
              timeout: float | None = None) -> dict[str, Any]:
    """Run `system` on one input on a fresh bus; the answer body."""
    async with Bus(store) as bus:
        await system.attach(bus)
        try:
            reply = await system.ask(Task(input=text).dump(), run_id=run_id or uuid4(),
                                     timeout=timeout or system.timeout)
        finally:
            await system.detach()
    return reply.body


def served_names(system: System, text: str | None) -> list[str]:
    """The agents named by `--serve` (comma-separated, or `all`), checked against `system`."""
    if not text:
        return []
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(system.agents)
    unknown = [n for n in names if n not in system.agents]
    if unknown or not names:
        raise UserError(f"no agent {', '.join(unknown) or '(none given)'} in this system: "
                        f"choose from {', '.join(system.agents)} (or all)")
    return list(dict.fromkeys(names))


async def serve(system: System, names: list[str], url: str, *, store: Any = None) -> None:
    """Serve the agents `names` of `system` over the MQTT broker at `url` until SIGINT or
    SIGTERM."""
    from autogenesis.bus.mqtt import MqttTransport

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    transport = MqttTransport(url, role="worker")
    async with Bus(store, transport=transport) as bus:
        for name in names:
            await system.agents[name].attach(bus)
        print(f"serving {', '.join(names)} of {system.name} on {transport.settings.where}; "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        await stop.wait()


async def ask_over(system: System, text: str, url: str, *, serving: list[str],
                   store: Any = None, run_id: Any = None, timeout: float | None = None,
                   wait_s: float = WAIT_S) -> dict[str, Any]:
    """Like `ask`, with the agents on the MQTT broker at `url`: this process runs the
    system's flow and the agents in `serving`; other processes serve the rest."""
    from autogenesis.bus.mqtt import MqttTransport

    transport = MqttTransport(url, role="system")
    async with Bus(store, transport=transport) as bus:
        await Agent.attach(system, bus)      # the flow only: its agents may be elsewhere
        for name in serving:
            await system.agents[name].attach(bus)
        wanted = {system.agents[name].address: name for name in system.agents}
        missing = [wanted[a] for a in await transport.wait_for(wanted, wait_s)]
        if missing:
            raise UserError(f"nobody serves {', '.join(missing)} on {transport.settings.where}"
                            f" (waited {wait_s:g}s): start `python -m {system.name} --bus "
                            f"{transport.settings.where} --serve {','.join(missing)}`")
        reply = await system.ask(Task(input=text).dump(), run_id=run_id or uuid4(),
                                 timeout=timeout or system.timeout)
    return reply.body


def make_parser(config: Mapping[str, Any]) -> argparse.ArgumentParser:
    """The command line of `python -m <slug>` (the docs check quotes it)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {config['name']}",
        description=f"{config['title']}: {config['goal']} Runs the system on one input and "
                    "prints the answer of its exit agent.")
    parser.add_argument("input", nargs="?", help="the input; '-' reads it from stdin")
    parser.add_argument("--example", type=int, metavar="N",
                        help=f"use the spec's example N as the input (1-"
                        f"{len(config.get('examples', ()))})")
    parser.add_argument("--model", help="a .gguf file, model directory or Hugging Face id, "
                        "or a model server's openai://host:port/v1/MODEL [default: "
                        "config.json's, else AUTOGENESIS_MODEL_URL or AUTOGENESIS_MODEL, "
                        "else the offline default]")
    parser.add_argument("--backend", help="auto, llamacpp or transformers")
    parser.add_argument("--timeout", type=float, default=config["deadline_s"],
                        help="seconds for the whole answer [default: %(default)s]")
    parser.add_argument("--json", action="store_true", help="print the whole reply as JSON")
    parser.add_argument("--code-out", type=Path, metavar="DIR",
                        help="write the code the system wrote and its tests (when it "
                        "writes code) to DIR")
    parser.add_argument("--no-log", action="store_true",
                        help="do not log the run to PostgreSQL")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="log to FILE (JSON lines) instead of PostgreSQL, as run id "
                        "--run-id: how the build runs the system in its sandbox")
    parser.add_argument("--run-id", type=UUID, help="the run id for --trace")
    parser.add_argument("--bus", metavar="URL",
                        help="run the agents over this MQTT broker "
                        "(mqtt://[user:password@]host[:port][/prefix]); other processes serve "
                        "them with --serve")
    parser.add_argument("--serve", metavar="AGENTS",
                        help="with --bus: serve these agents (comma-separated, or all) in "
                        "this process; without an input, serve them until stopped")
    parser.add_argument("--wait", type=float, default=WAIT_S, metavar="SECONDS",
                        help="with --bus: how long to wait for every agent to be served "
                        "[default: %(default)s]")
    return parser


def main(build: Build, config_path: Path, argv: list[str] | None = None) -> int:
    config = load_config(config_path)
    parser = make_parser(config)
    args = parser.parse_args(argv)
    if args.trace is not None and args.run_id is None:
        parser.error("--trace needs --run-id")
    if args.serve and not args.bus:
        parser.error("--serve needs --bus (the broker the agents are served on)")
    if args.bus and args.trace is not None:
        parser.error("--trace runs the system in one process: leave out --bus")
    examples = config.get("examples", [])
    if args.example is not None:
        if not 1 <= args.example <= len(examples):
            parser.error(f"--example must be 1-{len(examples)}" if examples
                         else "the spec gave no examples")
        text = examples[args.example - 1]["input"]
    elif args.input is None and args.serve:
        text = None     # serve only
    elif args.input is None:
        parser.error("give an input (or --example N)")
    else:
        text = sys.stdin.read() if args.input == "-" else args.input
    try:
        if text is None:
            _serve(build, config, args)
            return 0
        body = _run(build, config, text, args)
    except AutogenesisError as exc:
        print(f"{config['name']}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if args.code_out is not None:
        save_code(body, args.code_out)
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        sys.stdout.flush()
    else:
        print(body["answer"])
        sys.stdout.flush()
        for note in body.get("notes", ()):
            print(f"note: {note}", file=sys.stderr)
    return 0


CODE_FILES = ("solution.py", "test_solution.py")


def save_code(body: Mapping[str, Any], folder: Path) -> None:
    """The code and tests the system wrote, as files in `folder` (fixed names only)."""
    code = body.get("code") or {}
    if not code:
        print("note: this answer holds no code to write", file=sys.stderr)
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name in CODE_FILES:
        if isinstance(code.get(name), str):
            (folder / name).write_text(code[name], encoding="utf-8")
    print(f"wrote {', '.join(n for n in CODE_FILES if n in code)} to {folder}",
          file=sys.stderr)


def _serve(build: Build, config: Mapping[str, Any], args: argparse.Namespace) -> None:
    from autogenesis.llm.loader import load_model
    from autogenesis.llm.logged import LoggedModel

    model = load_model(args.model or config.get("model"), backend=args.backend,
                       slots=slots_for(config))
    if args.no_log:
        system = build(model, config)
        asyncio.run(serve(system, served_names(system, args.serve), args.bus))
        return
    from autogenesis.store import Store

    with Store.open() as store:     # calls are logged under the asking process's run
        system = build(LoggedModel(model, store), config)
        asyncio.run(serve(system, served_names(system, args.serve), args.bus, store=store))


def _asking(system: System, text: str, args: argparse.Namespace, *, store: Any = None,
            run_id: Any = None) -> Any:
    """The coroutine that asks `system`: in this process, or over --bus."""
    if args.bus:
        return ask_over(system, text, args.bus, serving=served_names(system, args.serve),
                        store=store, run_id=run_id, timeout=args.timeout, wait_s=args.wait)
    return ask(system, text, store=store, run_id=run_id, timeout=args.timeout)


def _run(build: Build, config: Mapping[str, Any], text: str, args: argparse.Namespace,
         ) -> dict[str, Any]:
    from autogenesis.llm.loader import load_model

    if not text.strip():
        raise UserError("the input is empty")
    model = load_model(args.model or config.get("model"), backend=args.backend,
                       slots=slots_for(config))
    if args.no_log:
        return asyncio.run(_asking(build(model, config), text, args))
    if args.trace is not None:
        from autogenesis.llm.logged import LoggedModel
        from autogenesis.runtime.trace import TraceLog

        with TraceLog(args.trace) as trace:
            return asyncio.run(ask(build(LoggedModel(model, trace), config), text,
                                   store=trace, run_id=args.run_id, timeout=args.timeout))

    from autogenesis.llm.logged import LoggedModel
    from autogenesis.store import Store
    from autogenesis.store.records import Run

    with Store.open() as store:
        run = store.start_run(Run(kind="system", name=config["name"],
                                  model=model.identity.model_id,
                                  config={"input": text, "backend": model.identity.backend}))
        try:
            body: dict[str, Any] = asyncio.run(_asking(
                build(LoggedModel(model, store), config), text, args, store=store,
                run_id=run.id))
        except BaseException as exc:
            store.finish_run(run, "failed", error=str(exc) or type(exc).__name__)
            raise
        store.finish_run(run, "succeeded")
    return body
