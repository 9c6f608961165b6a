"""Running generated (untrusted) code: a subprocess with limits and no network.

`run_sandboxed` starts the command in its own working directory and session,
with a wall-clock limit (the whole process group is killed when it passes),
an address-space limit and a CPU-time limit (`setrlimit`), a minimal
environment, and no network: on Linux it enters a new, empty network
namespace through `unshare --net --map-root-user` (user namespaces need no
privileges). Where that is not possible the result says `network: "shared"`
so callers and logs know the isolation was weaker; nothing else changes.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MEMORY_MB = 4096
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    network: str            # "none" (own empty namespace) or "shared"

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, chars: int = 1500) -> str:
        text = (self.stdout + "\n" + self.stderr).strip()
        return text[-chars:]


@functools.cache
def network_isolation() -> bool:
    """Whether `unshare --net --map-root-user` works on this machine."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return False
    try:
        probe = subprocess.run([unshare, "--net", "--map-root-user", "true"],
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _limits(memory_mb: int, cpu_s: int) -> None:
    """Set in the child before exec, where no `prlimit` binary is there to do it."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_sandboxed(command: Sequence[str], *, cwd: Path, timeout: float = DEFAULT_TIMEOUT_S,
                  memory_mb: int = DEFAULT_MEMORY_MB, env: Mapping[str, str] | None = None,
                  ) -> SandboxResult:
    """Run `command` in `cwd` under the limits; never raises for the command's failure."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "TMPDIR": str(cwd), **(env or {}),
    }
    isolated = network_isolation()
    argv = ["unshare", "--net", "--map-root-user", *command] if isolated else list(command)
    cpu_s = int(timeout) + 1
    # prlimit(1) sets the limits without running Python code between fork and exec,
    # which is unsafe in a process with threads (the log writer, the model).
    prlimit = shutil.which("prlimit")
    if prlimit:
        argv = [prlimit, f"--as={memory_mb * 2**20}", f"--cpu={cpu_s}", "--core=0", "--", *argv]
    started = time.monotonic()
    process = subprocess.Popen(
        argv, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, start_new_session=True, text=True, errors="replace",
        preexec_fn=None if prlimit else functools.partial(_limits, memory_mb, cpu_s),
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    return SandboxResult(process.returncode, stdout, stderr, round(time.monotonic() - started, 3),
                         timed_out, "none" if isolated else "shared")
