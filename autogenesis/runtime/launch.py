"""Running a generated system: its configuration, its agents, and `python -m <slug>`.

A generated package holds `config.json` (model, deadlines, and per agent its
prompt and decoding settings) and a `build(model, config)` function that
wires its agents into one of the topologies. This module does the rest, so
the generated code stays a page long: it loads the model, starts the bus
(logged to PostgreSQL unless `--no-log`), asks the system, prints the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from autogenesis.bus import Bus
from autogenesis.errors import AutogenesisError, UserError
from autogenesis.llm.base import Decoding, Model
from autogenesis.runtime.model_agent import ModelAgent, PromptConfig
from autogenesis.runtime.topologies import Approval, System

Build = Callable[[Model, Mapping[str, Any]], System]


def load_config(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


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


def approvals(config: Mapping[str, Any]) -> dict[str, Approval]:
    return {a["worker"]: Approval(a["approver"], a["max_rounds"])
            for a in config.get("approvals", ())}


async def ask(system: System, text: str, *, store: Any = None, run_id: Any = None,
              timeout: float | None = None) -> dict[str, Any]:
    """Run `system` on one input on a fresh bus; the answer body."""
    async with Bus(store) as bus:
        await system.attach(bus)
        try:
            reply = await system.ask({"input": text}, run_id=run_id or uuid4(),
                                     timeout=timeout or system.timeout)
        finally:
            await system.detach()
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
    parser.add_argument("--model", help="a .gguf file, model directory or Hugging Face id "
                        "[default: config.json's, else AUTOGENESIS_MODEL, else the offline "
                        "default]")
    parser.add_argument("--backend", help="auto, llamacpp or transformers")
    parser.add_argument("--timeout", type=float, default=config["deadline_s"],
                        help="seconds for the whole answer [default: %(default)s]")
    parser.add_argument("--json", action="store_true", help="print the whole reply as JSON")
    parser.add_argument("--no-log", action="store_true",
                        help="do not log the run to PostgreSQL")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="log to FILE (JSON lines) instead of PostgreSQL, as run id "
                        "--run-id: how the build runs the system in its sandbox")
    parser.add_argument("--run-id", type=UUID, help="the run id for --trace")
    return parser


def main(build: Build, config_path: Path, argv: list[str] | None = None) -> int:
    config = load_config(config_path)
    parser = make_parser(config)
    args = parser.parse_args(argv)
    if args.trace is not None and args.run_id is None:
        parser.error("--trace needs --run-id")
    examples = config.get("examples", [])
    if args.example is not None:
        if not 1 <= args.example <= len(examples):
            parser.error(f"--example must be 1-{len(examples)}" if examples
                         else "the spec gave no examples")
        text = examples[args.example - 1]["input"]
    elif args.input is None:
        parser.error("give an input (or --example N)")
    else:
        text = sys.stdin.read() if args.input == "-" else args.input
    try:
        body = _run(build, config, text, args)
    except AutogenesisError as exc:
        print(f"{config['name']}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        sys.stdout.flush()
    else:
        print(body["answer"])
    return 0


def _run(build: Build, config: Mapping[str, Any], text: str, args: argparse.Namespace,
         ) -> dict[str, Any]:
    from autogenesis.llm.loader import load_model

    if not text.strip():
        raise UserError("the input is empty")
    model = load_model(args.model or config.get("model"), backend=args.backend)
    if args.no_log:
        return asyncio.run(ask(build(model, config), text, timeout=args.timeout))
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
            body = asyncio.run(ask(build(LoggedModel(model, store), config), text,
                                   store=store, run_id=run.id, timeout=args.timeout))
        except BaseException as exc:
            store.finish_run(run, "failed", error=str(exc) or type(exc).__name__)
            raise
        store.finish_run(run, "succeeded")
    return body
