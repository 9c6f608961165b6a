"""The sandbox for generated code really blocks the network and enforces its limits."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autogenesis.sandbox import network_isolation, run_sandboxed

PYTHON = sys.executable


def test_runs_in_its_own_folder_with_a_minimal_environment(tmp_path: Path):
    result = run_sandboxed([PYTHON, "-c", "import os; print(os.getcwd()); "
                            "print(os.environ.get('AUTOGENESIS_DATABASE_URL'))"],
                           cwd=tmp_path, timeout=30)
    assert result.ok, result.tail()
    assert result.stdout.split() == [str(tmp_path), "None"]


@pytest.mark.skipif(not network_isolation(), reason="no user namespaces here: the sandbox "
                    "reports network 'shared' (tested below)")
def test_network_is_unreachable(tmp_path: Path):
    probe = ("import socket\n"
             "s = socket.socket(); s.settimeout(3)\n"
             "try:\n    s.connect(('127.0.0.1', 5432)); print('connected')\n"
             "except OSError as e:\n    print('blocked', e.errno)\n")
    inside = run_sandboxed([PYTHON, "-c", probe], cwd=tmp_path, timeout=30)
    assert inside.network == "none"
    assert inside.stdout.startswith("blocked"), inside.tail()
    # The same probe outside the sandbox reaches the PostgreSQL server the tests use.
    import subprocess
    outside = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, timeout=30)
    assert outside.stdout.startswith("connected")


def test_the_isolation_used_is_reported(tmp_path: Path):
    result = run_sandboxed([PYTHON, "-c", "pass"], cwd=tmp_path, timeout=30)
    assert result.network == ("none" if network_isolation() else "shared")


def test_wall_clock_limit_kills_the_process_group(tmp_path: Path):
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "time.sleep(60)\n")
    result = run_sandboxed([PYTHON, "-c", code], cwd=tmp_path, timeout=2)
    assert result.timed_out and not result.ok
    assert result.seconds < 15


def test_memory_limit_stops_a_hog(tmp_path: Path):
    code = "data = bytearray(3 * 1024 ** 3)\nprint('allocated')\n"
    result = run_sandboxed([PYTHON, "-c", code], cwd=tmp_path, timeout=30, memory_mb=512)
    assert not result.ok
    assert "MemoryError" in result.stderr
