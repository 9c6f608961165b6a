"""How fast the CLI starts: `autogenesis --help` and `autogenesis runs --help`.

    .venv/bin/python bench/cli_start.py [--repeat 3]

Each command runs in a fresh process; the best wall time of the repeats is printed
beside the baseline measured in the same run, a process that only does
`import typer` (which every typer CLI pays), as a ratio. The goal is under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "autogenesis"
AUTOGENESIS = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "autogenesis"]
COMMANDS = {
    "python -c 'import typer' (baseline)": [sys.executable, "-c", "import typer"],
    "autogenesis --help": [*AUTOGENESIS, "--help"],
    "autogenesis runs --help": [*AUTOGENESIS, "runs", "--help"],
}


def best(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "COLUMNS": "100"})
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per command (best kept).")
    args = parser.parse_args()
    baseline = None
    for name, command in COMMANDS.items():
        seconds = best(command, args.repeat)
        baseline = baseline or seconds
        print(f"{name:<40} {seconds:6.3f} s  {seconds / baseline:5.2f}x baseline")


if __name__ == "__main__":
    main()
