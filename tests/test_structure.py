"""The package's shape: stages are data (`autogenesis.build.stages`), not names the orchestrator
branches on; no module imports one that imports it back."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from autogenesis.build.agents.base import StageAgent
from autogenesis.build.stages import AGENTS, BY_NAME, STAGE_ORDER, STAGES, output_of

REPO = Path(__file__).resolve().parents[1]
ORCHESTRATOR = [REPO / "autogenesis" / "build" / f"{name}.py"
                for name in ("orchestrator", "rounds")]
"""The orchestrator: the walk through the stages, and one stage's rounds."""
_spec = importlib.util.spec_from_file_location("import_graph", REPO / "scripts" / "import_graph.py")
assert _spec is not None and _spec.loader is not None
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            found.add(id(body[0].value))
    return found


def test_the_orchestrator_names_no_stage():
    tree = ast.Module(body=[ast.parse(path.read_text()) for path in ORCHESTRATOR],
                      type_ignores=[])
    docstrings = _docstrings(tree)
    named = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and node.value in STAGE_ORDER
             and id(node) not in docstrings]
    assert named == []


def test_no_orchestrator_method_takes_more_than_five_parameters():
    tree = ast.Module(body=[ast.parse(path.read_text()) for path in ORCHESTRATOR],
                      type_ignores=[])
    too_many = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args
        names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        count = len([n for n in names if n not in ("self", "cls")]) + bool(args.vararg) + bool(
            args.kwarg)
        if count > 5:
            too_many.append((node.name, count))
    assert too_many == []


def test_every_stage_is_one_entry_its_agent_names():
    assert tuple(BY_NAME) == STAGE_ORDER
    assert len(set(STAGE_ORDER)) == len(STAGES) == 9
    assert (*STAGE_ORDER, "approver") == AGENTS
    for stage in STAGES:
        assert issubclass(stage.agent, StageAgent)
        assert output_of(stage.artefact) == stage.output
        # a stage reads only what the spec, the settings or an earlier stage gives
        earlier = {s.output for s in STAGES[:STAGES.index(stage)]}
        assert set(stage.inputs) <= earlier | {"spec", "held_out", "budget_s", "iteration"}
        for _, target in stage.rework:   # rework goes back, never forward
            assert STAGE_ORDER.index(target) <= STAGE_ORDER.index(stage.name)


def test_no_module_imports_one_that_imports_it_back_even_lazily():
    _, every, _ = import_graph.graphs()
    assert import_graph.cycles(every) == []


def test_the_import_graph_finds_a_cycle_a_lazy_import_makes(tmp_path: Path):
    """The check above can fail: a lower layer importing the command line in a function
    (as the docs checks once did) is a cycle."""
    package = tmp_path / "autogenesis"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("")
    (package / "low" / "checks.py").write_text(
        "def docs():\n    from autogenesis.top import app\n    return app\n")
    (package / "top.py").write_text("from autogenesis.low.checks import docs\napp = 1\n")
    top, every, _ = import_graph.graphs(tmp_path)
    assert import_graph.cycles(top) == []
    assert import_graph.cycles(every) == [["autogenesis.low.checks", "autogenesis.top"]]
