"""The wheels a generated package installs from, so that its deployment check can install
it into a clean virtual environment with no network.

Two parts:

- the runtime's dependencies (`autogenesis`'s own requirements, without its extras:
  pydantic, psycopg, httpx, ...), downloaded once with `pip download` into
  `~/.cache/autogenesis/wheelhouse/` (`scripts/setup.sh` does it; a build does it the
  first time it needs it, outside the sandbox, and says so when it cannot);
- the runtime itself, `autogenesis`, built from this checkout for every deployment
  (it is not on PyPI, and a checkout being worked on changes).

Nothing else is there: a generated wheel that declares any other dependency fails to
install, which is what the deployment check is for.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

from autogenesis.runtime.skills import TESTS_REQUIREMENT

DOWNLOAD_TIMEOUT_S = 600.0
BUILD_TIMEOUT_S = 120.0
STAMP = "requirements.json"
"""In the wheelhouse: the requirements its wheels were downloaded for."""


class WheelhouseError(Exception):
    """The wheelhouse could not be made: the builder's environment, not the package."""


def runtime_requirements() -> list[str]:
    """What a generated package may need: what `pip install autogenesis` installs (its
    requirements that no extra asks for), and pytest for systems that run tests."""
    every = importlib.metadata.requires("autogenesis") or []
    return sorted([line for line in every if not (
        Requirement(line).marker and "extra" in str(Requirement(line).marker))]
        + [TESTS_REQUIREMENT])


def wheelhouse_dir() -> Path:
    """AUTOGENESIS_WHEELHOUSE, else `~/.cache/autogenesis/wheelhouse` (XDG_CACHE_HOME):
    shared by every AUTOGENESIS_HOME, as pip's own cache is."""
    if os.environ.get("AUTOGENESIS_WHEELHOUSE"):
        return Path(os.environ["AUTOGENESIS_WHEELHOUSE"]).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "autogenesis" / "wheelhouse"


def _stamp(requirements: list[str]) -> str:
    tag = f"{sys.implementation.cache_tag}-{sys.platform}"
    return hashlib.sha256(json.dumps([tag, requirements]).encode()).hexdigest()


def ensure_dependencies(folder: Path | None = None) -> Path:
    """The folder holding wheels for the runtime's dependencies, downloading them when it
    does not hold them for the requirements of the autogenesis installed now."""
    folder = folder or wheelhouse_dir()
    requirements = runtime_requirements()
    stamp = folder / STAMP
    wanted = _stamp(requirements)
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")).get("sha256") == wanted:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
             "--only-binary=:all:", "--dest", str(folder), *requirements],
            capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise WheelhouseError(f"downloading the runtime's wheels took over "
                              f"{DOWNLOAD_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise WheelhouseError(
            f"the runtime's wheels could not be downloaded into {folder} (run "
            f"`scripts/setup.sh` where PyPI can be reached): {done.stderr.strip()[-400:]}")
    stamp.write_text(json.dumps({"sha256": wanted, "requirements": requirements}),
                     encoding="utf-8")
    return folder


def source_checkout() -> Path | None:
    """The checkout this autogenesis runs from, when it runs from one (an editable or
    source install): where its own wheel is built from."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "autogenesis"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_runtime_wheel(into: Path) -> Path:
    """autogenesis's own wheel, built from this checkout into `into` (offline, with the
    hatchling this environment has)."""
    root = source_checkout()
    if root is None:
        raise WheelhouseError("autogenesis is not running from a source checkout, so its "
                              "wheel cannot be built for the deployment check")
    into.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--disable-pip-version-check", "-q", "-w", str(into), str(root)],
            capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
            env={**os.environ, "PIP_NO_CACHE_DIR": "1"})
    except subprocess.TimeoutExpired as exc:
        raise WheelhouseError("building autogenesis's wheel timed out") from exc
    wheels = sorted(into.glob("autogenesis-*.whl"))
    if done.returncode != 0 or not wheels:
        raise WheelhouseError(f"autogenesis's wheel did not build: {done.stderr[-400:]}")
    return wheels[0]


def main() -> None:
    """`python -m autogenesis.build.wheelhouse`: fill the wheelhouse (scripts/setup.sh)."""
    folder = ensure_dependencies()
    count = len(list(folder.glob("*.whl")))
    print(f"wheelhouse: {count} wheels for the runtime's dependencies in {folder}")


if __name__ == "__main__":
    main()
