"""The `autogenesis` command.

Commands are split by concern (`plan.py`, `build.py`, `worker.py`, `db.py`, `runs.py`, `replay.py`,
`inspect.py`, `demo.py`, `models.py`). Expected
failures (`AutogenesisError`) become one line on stderr and exit code 1;
anything else is a bug and keeps its traceback. Nothing here imports torch.

The command modules import only light modules at the top (the standard library,
typer, rich, `autogenesis.config`, `autogenesis.errors`, `cli.options`); each
command imports the build, the store and the model loader when it runs, so that
`autogenesis --help` starts fast (`bench/cli_start.py`; tests/test_cli.py checks
what --help imports).
"""

from __future__ import annotations

import logging
import sys

import typer

from autogenesis import __version__
from autogenesis.cli import build, db, demo, models, plan, replay, runs, worker
from autogenesis.cli import inspect as inspect_cli
from autogenesis.errors import AutogenesisError

app = typer.Typer(
    name="autogenesis",
    help="Build tested, documented multi-agent LLM systems from a markdown spec, "
    "with a hierarchy of local LLM agents. Everything is logged to PostgreSQL "
    "(an embedded server unless AUTOGENESIS_DATABASE_URL is set).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs ~0.1 s at every start
)
app.command("plan")(plan.plan)
app.command("build")(build.build)
app.add_typer(db.app, name="db")
app.add_typer(runs.app, name="runs")
app.command("replay")(replay.replay)
app.command("resume")(replay.resume)
app.command("inspect")(inspect_cli.inspect)
app.command("demo")(demo.demo)
app.command("models")(models.models)
app.command("generate")(models.generate)
app.command("worker")(worker.worker)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autogenesis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens to stderr."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        app(prog_name="autogenesis")
    except AutogenesisError as exc:
        one_line = " ".join(str(exc).split())  # libpq and servers add hint lines
        print(f"autogenesis: error: {one_line}", file=sys.stderr)
        sys.exit(1)
