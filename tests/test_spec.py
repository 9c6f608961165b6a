"""Reading specs and parsing what they state, for every style of spec in examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from autogenesis.errors import SpecError
from autogenesis.spec import MAX_SPEC_BYTES, parse_spec, read_spec

from conftest import REPO

EXAMPLES = REPO / "examples"


def parsed(name: str):
    return parse_spec((EXAMPLES / name).read_text())


def test_headed_sections_give_agents_flow_examples_and_limits():
    spec = parsed("trip_planner.md")
    assert spec.title == "Trip planner"
    assert [a.name for a in spec.agents] == ["planner", "researcher", "budgeter", "editor"]
    assert spec.agent("budgeter").duties == [
        "estimates the cost of each day and flags anything over budget"]
    assert spec.flow == [("planner", "researcher"), ("researcher", "budgeter"),
                         ("budgeter", "editor")]
    assert spec.examples[1] == ("One rainy day in Paris with kids",
                                "a one-day plan with indoor sights suitable for children.")
    assert (spec.answer_words, spec.step_seconds) == (200, 60.0)
    assert spec.topology_hint == "pipeline"


def test_free_prose_leaves_unnamed_duties_for_the_model():
    spec = parsed("lesson_pipeline.md")
    assert [a.name for a in spec.agents] == ["reviewer"]
    assert [r.duty for r in spec.implied] == [
        "break the topic down into three key ideas",
        "explain each idea in plain words with an everyday example",
        "write two quiz questions with answers"]
    assert [pos for pos in sorted(r.pos for r in spec.implied)] == [r.pos for r in spec.implied]
    assert spec.agents[0].pos > spec.implied[-1].pos  # the reviewer comes last in the text
    assert spec.examples[0][0] == "photosynthesis"
    assert spec.topology_hint == "feedback_loop"


def test_terse_paragraph_names_groups_and_their_shared_duty():
    spec = parsed("contract_delegation.md")
    assert [a.name for a in spec.agents] == ["broker", "cleaner", "gardener", "handyman"]
    assert spec.agent("handyman").duties == ["bids with how well the task fits its skills"]
    assert "awards the task to the best bid and returns the winner's plan" in \
        spec.agent("broker").duties
    assert spec.examples == [("fix the squeaky door hinge",
                              "the handyman wins and describes the repair.")]
    assert spec.topology_hint == "contract_net"


@pytest.mark.parametrize(("example", "topology"), [
    ("support_router.md", "router"), ("review_panel.md", "consensus"),
    ("blog_writer.md", "feedback_loop"), ("research_team.md", "hierarchy"),
])
def test_topology_hints(example: str, topology: str):
    assert parsed(example).topology_hint == topology


def test_back_arrows_are_flow_and_mark_a_feedback_loop():
    spec = parsed("blog_writer.md")
    assert ("editor", "writer") in spec.flow
    assert [a.name for a in spec.agents] == ["outliner", "writer", "editor"]


def test_arrow_names_become_agents_even_without_a_list():
    spec = parse_spec("# Relay\n\nThree agents pass a message along.\n\n"
                      "collector -> summariser -> publisher\n")
    assert [a.name for a in spec.agents] == ["collector", "summariser", "publisher"]


def test_template_syntax_in_a_spec_stays_inert_text():
    spec = parse_spec("# X\n\n## Agents\n\n- **bad**: writes {{ config.secret }} and "
                      "{% include 'x' %} into answers\n")
    duty = spec.agent("bad").duties[0]
    assert "{{" not in duty and "{%" not in duty
    assert "config.secret" in duty


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"), (b"   \n\n", "is empty"), (b"\x00\x01binary\x00", "is binary"),
    (b"\xff\xfe not utf8 text at all here", "not UTF-8"), (b"# Hi\n\nok", "too few words"),
    (b"x" * (MAX_SPEC_BYTES + 1), "KiB"),
])
def test_unusable_specs_get_a_clear_error(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "spec.md"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=message):
        read_spec(path)


def test_missing_spec_and_folder(tmp_path: Path):
    with pytest.raises(SpecError, match="does not exist"):
        read_spec(tmp_path / "nope.md")
    with pytest.raises(SpecError, match="not a file"):
        read_spec(tmp_path)
