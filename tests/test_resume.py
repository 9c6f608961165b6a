"""`resume` after `kill -9`: a real build process (scripted models, real PostgreSQL, the
package's tests and wheel real) killed at three points, then resumed under the same run
id. It must complete, yield the same package as an uninterrupted build, and leave the log
with exactly the rows an uninterrupted build has: nothing redone, nothing twice.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from scripted_build import InProcessRunner, build_model
from test_replay import TABLES, counts, logged_build

from autogenesis.errors import UserError
from autogenesis.replay import resume
from autogenesis.store import Store

from conftest import PYTHON, REPO


@pytest.fixture(scope="module")
def reference(service_url: str, tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted build: its package and how many rows of each kind it logged."""
    tmp = tmp_path_factory.mktemp("reference")
    with Store(service_url, spool_dir=tmp / "spool") as store:
        result = logged_build(store, tmp / "out")
        return result.package.sha256, counts(store, result.run_id), \
            len(store.children(result.run_id))


def killed_build(url: str, tmp: Path, point: str,
                 spec: str = "trip_planner.md") -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(REPO / "tests" / "resume_child.py"), url, str(tmp),
                           point, spec], capture_output=True, text=True, timeout=300,
                          cwd=REPO / "tests")


@pytest.mark.parametrize("point", ["between", "inside", "logging"])
def test_resume_after_kill_9_completes_the_same_build(point: str, service_url: str,
                                                      tmp_path: Path, reference):
    package_sha256, reference_counts, reference_children = reference
    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        before = {r.id for r in store.runs(limit=1000)}
        child = killed_build(service_url, tmp_path, point)
        assert child.returncode == -9, child.stderr[-2000:]
        [run] = [r for r in store.runs(limit=1000) if r.id not in before and r.kind == "build"]
        assert run.status == "running"
        interrupted = counts(store, run.id)
        assert 0 < sum(interrupted.values()) < sum(reference_counts.values())
        if point == "between":   # killed before prompt design: at most two artefacts
            assert 1 <= interrupted["artefacts"] <= 2
        if point == "logging":   # the batch with the testing verdict never committed
            assert "testing" not in {v["stage"] for v in store.verdicts(run.id)}
            assert interrupted["artefacts"] >= 4

        result = asyncio.run(resume(store, run.id, build_model(), runner=InProcessRunner(),
                                    out_dir=tmp_path / "resumed"))
        store.flush()
        assert result.run_id == run.id
        assert result.package.sha256 == package_sha256
        assert result.package_path.parent == tmp_path / "resumed"
        assert (result.package_path / "README.md").is_file()
        row = store.run(run.id)
        assert row["status"] == "succeeded" and row["finished_at"] is not None
        # the log holds what an uninterrupted build logs, and no row twice
        assert counts(store, run.id) == reference_counts
        assert all(interrupted[t] <= reference_counts[t] for t in TABLES)
        children = store.children(run.id)
        assert len(children) == reference_children
        assert all(c["status"] != "running" for c in children)

        with pytest.raises(UserError, match="nothing to resume"):
            asyncio.run(resume(store, run.id, build_model()))


def test_a_build_whose_system_applies_rules_resumes_to_the_same_package(
        service_url: str, tmp_path: Path):
    """examples/expense_claims_check.md: every worker applies rules (skills.py), killed
    as its system runs the second example."""
    spec = "expense_claims_check.md"
    with Store(service_url, spool_dir=tmp_path / "spool") as store:
        reference = logged_build(store, tmp_path / "reference", spec)
        before = {r.id for r in store.runs(limit=1000)}
        child = killed_build(service_url, tmp_path, "inside", spec)
        assert child.returncode == -9, child.stderr[-2000:]
        [run] = [r for r in store.runs(limit=1000) if r.id not in before and r.kind == "build"]
        result = asyncio.run(resume(store, run.id, build_model(), runner=InProcessRunner(),
                                    out_dir=tmp_path / "resumed"))
        store.flush()
        assert result.package.sha256 == reference.package.sha256
        assert (result.package_path / "expense_check" / "skills.py").is_file()
        assert counts(store, run.id) == counts(store, reference.run_id)
