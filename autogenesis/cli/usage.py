"""Whether `autogenesis ARGS` would parse, asked of the real command line.

    echo '[["runs", "--limit", "10"], ["db", "bogus"]]' | python -m autogenesis.cli.usage

prints one answer per command, in order: null when it parses, else why not. The
approver's documentation check asks this in a subprocess, as a user would run the
command, so that the build's agents do not import the command line that runs them.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def problem(args: list[str]) -> str | None:
    """Parse `autogenesis ARGS` with the real command line (typer vendors its click, so
    groups and errors are recognised by what they have, not by class)."""
    import typer

    from autogenesis.cli import app

    command: Any = typer.main.get_command(app)
    path = ["autogenesis"]
    while isinstance(getattr(command, "commands", None), dict):  # a group
        if not args or args[0].startswith("-"):
            if getattr(command, "invoke_without_command", False):
                break   # a group that runs by itself (`autogenesis runs --limit 10`)
            return f"`{' '.join(path)}` needs a command"
        if args[0] not in command.commands:
            return f"`{' '.join(path)}` has no command {args[0]!r}"
        path.append(args[0])
        command, args = command.commands[args[0]], args[1:]
    try:
        command.make_context(" ".join(path), list(args))
    except Exception as exc:  # click's UsageError, or Exit for --help
        if type(exc).__name__ == "Exit":
            return None
        return exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return None


def main() -> None:
    commands = json.load(sys.stdin)
    json.dump([problem([str(a) for a in args]) for args in commands], sys.stdout)


if __name__ == "__main__":
    main()
