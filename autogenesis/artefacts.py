"""Typed artefacts passed between the stages; their JSON schemas come from these types.

Pydantic models at this boundary: the same class gives the schema for
constrained decoding (`schema_of`), validates what a worker produced, and
serialises the artefact for the bus and the log. An artefact's identity is
the sha256 of its canonical JSON (`digest`): a worker answering a rejection
with the same digest again is looping.

Stage order: Requirements (1) -> Blueprint (2) -> PromptSet (3) -> Package (4)
-> TestReport (5) -> TuningReport (6) -> Docs (8) -> Deployment (7) -> Feedback
(9); every one of them is judged by the approver, whose answer is a Verdict.
Documentation runs before deployment so that the wheel ships the documented
package: what is installed is what lies in `generated/<slug>/`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from autogenesis.canonical import sha256_of
from autogenesis.config import AGENT_NAME_MAX, name_regex

Topology = Literal["pipeline", "router", "hierarchy", "contract_net", "consensus",
                   "feedback_loop"]
TOPOLOGIES: tuple[str, ...] = get_args(Topology)

AgentKind = Literal["worker", "approver", "router", "manager", "aggregator", "monitor"]
SUPERVISOR_KINDS = ("approver", "router", "manager", "aggregator")
"""Kinds that judge or steer other agents. A worker needs one of them (or a worker the
spec says reviews it) as its approver; a monitor only watches and needs none."""
Role = AgentKind
"""What an agent does in its system as the spec states it; the blueprint's kinds."""

EdgeKind = Literal["sends", "approves", "broadcasts", "monitors"]

NAME_PATTERN = rf"^{name_regex(AGENT_NAME_MAX)}$"


class Artefact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def digest(self) -> str:
        """The artefact's identity (`canonical.sha256_of` its JSON)."""
        return sha256_of(self.model_dump(mode="json"))



# --- understanding ------------------------------------------------------------------


class AgentDuty(Artefact):
    name: str = Field(pattern=NAME_PATTERN)
    duties: list[str] = Field(default_factory=list)
    stated: bool = Field(True, description="named in the spec (False: implied, named by us)")
    named_by: Literal["spec", "model", "rule"] = "spec"
    role: Role = "worker"
    line: int | None = Field(None, description="the spec line it came from")


class Group(Artefact):
    """Agents the spec states together ("three contractor agents (a cleaner, ...)")."""

    word: str
    members: list[str] = Field(default_factory=list)
    count: int | None = Field(None, description="the number the spec states, if any")
    line: int | None = None


class Loop(Artefact):
    """An approval loop the spec states: `approver` sends `worker`'s work back."""

    worker: str = Field(pattern=NAME_PATTERN)
    approver: str = Field(pattern=NAME_PATTERN)
    max_rounds: int | None = Field(None, ge=1, le=10, description="the limit as stated")
    counts: Literal["rounds", "returns"] = Field(
        "rounds", description="rounds: attempts in all; returns: times the work is sent back")
    line: int | None = None

    @property
    def attempts(self) -> int | None:
        """How many times the worker may answer: a stated limit on returns allows one
        attempt more than it says."""
        if self.max_rounds is None:
            return None
        return min(10, self.max_rounds + (1 if self.counts == "returns" else 0))


class Link(Artefact):
    source: str = Field(pattern=NAME_PATTERN)
    target: str = Field(pattern=NAME_PATTERN)


CheckKind = Literal["mentions", "absent", "words_max", "words_min", "count", "decision",
                    "route", "code", "rubric"]


class AcceptanceCheck(Artefact):
    """One thing an example's answer must do, from the spec's words
    (`autogenesis.acceptance`): deterministic unless `by` is "model"."""

    kind: CheckKind
    text: str = Field(description="what is checked, in words")
    params: dict[str, Any] = Field(default_factory=dict)
    by: Literal["rule", "model"] = "rule"
    source: Literal["expected", "input", "constraint"] = "expected"


RuleKind = Literal["flag", "one_of", "range", "dates", "total", "not_future", "deadline",
                   "lookup", "count", "run_tests", "award", "extract"]


class Rule(Artefact):
    """A rule the spec states that code can apply (`autogenesis.spec.rules`), and, from
    design on, where it is wired: to an agent, to the whole system (`agent` ""), or not
    at all (`agent` None, with `why`)."""

    kind: RuleKind
    text: str = Field(description="the spec's words")
    line: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    agent: str | None = Field(None, description="the agent that applies it; '' the system")
    why: str = Field("", description="why it is not wired, when it is not")

    @property
    def wired(self) -> bool:
        return self.agent is not None


class Example(Artefact):
    input: str
    expected: str = ""
    checks: list[AcceptanceCheck] = Field(default_factory=list)
    unchecked: str = Field("", description="why no rule can check this example, if none can")


class Requirements(Artefact):
    """Stage 1: what the spec asks for."""

    title: str
    goal: str
    agents: list[AgentDuty] = Field(min_length=1)
    flow: list[Link] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    topology_hint: Topology | None = None
    answer_words: int | None = Field(None, description="a word limit the spec sets on answers")
    step_seconds: float | None = Field(None, description="a time limit the spec sets per step")
    groups: list[Group] = Field(default_factory=list)
    loops: list[Loop] = Field(default_factory=list)
    every_step: list[str] = Field(default_factory=list,
                                  description="approvers the spec says approve every step")
    topology_reason: str = ""
    notes: list[str] = Field(default_factory=list,
                             description="what the reading could not place, in words")
    rules: list[Rule] = Field(default_factory=list,
                              description="rules stated that code can apply exactly")


# --- design -------------------------------------------------------------------------


class ModelSettings(Artefact):
    max_new_tokens: int = Field(160, ge=8, le=2048)
    temperature: float = Field(0.0, ge=0.0, le=2.0)


class AgentDesign(Artefact):
    name: str = Field(pattern=NAME_PATTERN)
    kind: AgentKind
    role: str
    duties: list[str] = Field(min_length=1)
    inputs: list[str] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    model: ModelSettings = Field(default_factory=ModelSettings)
    stated: bool = True


class Edge(Artefact):
    source: str = Field(pattern=NAME_PATTERN)
    target: str = Field(pattern=NAME_PATTERN)
    kind: EdgeKind


class Approval(Artefact):
    worker: str = Field(pattern=NAME_PATTERN)
    approver: str = Field(pattern=NAME_PATTERN)
    max_rounds: int = Field(2, ge=1, le=10)


class Blueprint(Artefact):
    """Stage 2: the system to generate."""

    slug: str = Field(pattern=NAME_PATTERN)
    title: str
    goal: str
    topology: Topology
    agents: list[AgentDesign] = Field(min_length=1)
    edges: list[Edge] = Field(default_factory=list)
    entry: str
    exit: str
    order: list[str] = Field(description="the workers in the order they act")
    approvals: list[Approval] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    answer_words: int | None = None
    step_seconds: float = Field(60.0, gt=0)
    diagram: str
    topology_reason: str = ""
    rules: list[Rule] = Field(default_factory=list,
                              description="every stated rule, wired or with why not")
    rule_only: list[str] = Field(
        default_factory=list, description="agents whose duty their rules cover: they give "
        "what the rules and typed fields compute, and write no prose")

    def agent(self, name: str) -> AgentDesign | None:
        return next((a for a in self.agents if a.name == name), None)


# --- prompt design ------------------------------------------------------------------


class Shot(Artefact):
    input: str
    output: str


class AgentPrompt(Artefact):
    agent: str = Field(pattern=NAME_PATTERN)
    system: str
    output_format: str
    examples: list[Shot] = Field(default_factory=list)
    variant: str
    score: float


class VariantScore(Artefact):
    agent: str
    variant: str
    system: str = Field("", description="the variant's system prompt")
    score: float
    coverage: float
    trial: float
    trial_answer: str = Field(description="the answer on the first example tried")
    tokens: int = Field(0, description="output tokens of the trial answers")


class PromptSet(Artefact):
    """Stage 3: one chosen prompt per generated agent, and every variant's score."""

    prompts: list[AgentPrompt] = Field(min_length=1)
    scored: list[VariantScore] = Field(default_factory=list)
    score_rule: str

    def prompt(self, agent: str) -> AgentPrompt | None:
        return next((p for p in self.prompts if p.agent == agent), None)

    def variant(self, agent: str, variant: str) -> VariantScore | None:
        return next((v for v in self.scored if v.agent == agent and v.variant == variant),
                    None)


# --- generator ----------------------------------------------------------------------


class PackageFile(Artefact):
    path: str
    sha256: str
    size: int
    content: str


class Package(Artefact):
    """Stage 4: the rendered files of `generated/<slug>/`, with their hashes."""

    slug: str = Field(pattern=NAME_PATTERN)
    files: list[PackageFile] = Field(min_length=1)
    sha256: str = Field(description="sha256 over the sorted (path, sha256) manifest")

    def manifest(self) -> list[dict[str, Any]]:
        return [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files]

    def file(self, path: str) -> PackageFile | None:
        return next((f for f in self.files if f.path == path), None)

    def config(self) -> dict[str, Any] | None:
        """The generated system's config.json, parsed (None when the package has none)."""
        file = self.file(f"{self.slug}/config.json")
        return json.loads(file.content) if file is not None else None


def package_sha256(files: list[PackageFile]) -> str:
    lines = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()


# --- testing ------------------------------------------------------------------------


class PytestRun(Artefact):
    """The generated package's own test suite, run in the sandbox."""

    passed: int
    failed: int
    errors: int
    returncode: int
    seconds: float
    timed_out: bool = False
    output: str = Field("", description="the end of pytest's output")


class CheckResult(Artefact):
    """An acceptance check run on one answer: passed, failed, or None when no rule
    could judge it (a model rubric not yet judged is unchecked, never passed)."""

    kind: str
    text: str
    passed: bool | None
    detail: str = ""


def pass_count(results: list[CheckResult]) -> tuple[int, int]:
    """(passed, judged) over the checks a rule could judge."""
    judged = [r for r in results if r.passed is not None]
    return sum(bool(r.passed) for r in judged), len(judged)


class Scenario(Artefact):
    """One spec example run through the generated system with the real model."""

    example: int = Field(ge=1)
    input: str
    expected: str = ""
    answer: str = ""
    exit_agent: str | None = Field(None, description="the agent whose answer came back")
    reached_exit: bool
    approved: bool = Field(False, description="every step approved by its approver")
    steps: int = 0
    steps_approved: int = 0
    unapproved: list[str] = Field(default_factory=list,
                                  description="agents whose last step was not approved")
    path: list[str] = Field(default_factory=list, description="senders in message order")
    latency_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    calls: int = Field(0, description="model calls the system made")
    events: list[str] = Field(default_factory=list, description="loop/deadline/... events")
    error: str = ""
    run_id: str | None = Field(None, description="the logged run of the system")
    checks: list[CheckResult] = Field(default_factory=list)

    @property
    def route(self) -> list[str]:
        """The agents that worked on the answer: the senders, without the system's prefix
        ("help_desk/billing" -> "billing")."""
        return sorted({sender.rsplit("/", 1)[-1] for sender in self.path if sender})


class BaselineRun(Artefact):
    """One example answered by a baseline arm instead of the system: `single` is one
    plain call of the same model with the spec's goal and duties as its prompt; `vote`
    is a majority vote of as many sampled calls of that prompt as the system made, on
    the example's decision checks only."""

    arm: Literal["single", "vote"]
    example: int = Field(ge=1)
    held_out: bool = Field(False, description="a user's --eval case, not a spec example")
    answer: str = ""
    checks: list[CheckResult] = Field(default_factory=list)
    calls: int = 1
    tokens_in: int = 0
    tokens_out: int = 0


class TestReport(Artefact):
    """Stage 5: the package's tests and one scenario per spec example."""

    __test__ = False  # not a pytest class

    package_sha256: str
    tests: PytestRun
    scenarios: list[Scenario] = Field(default_factory=list)
    network: str = Field(description="none: own empty network namespace; shared: none made")
    memory_mb: int
    timeout_s: float
    baselines: list[BaselineRun] = Field(default_factory=list)
    held_out: list[Scenario] = Field(default_factory=list, description="the user's --eval "
                                     "cases: scored like the examples, never tuned on")

    @property
    def reached(self) -> int:
        return sum(s.reached_exit for s in self.scenarios)

    def passes(self, arm: str = "system", *, held_out: bool = False) -> tuple[int, int]:
        """(checks passed, checks a rule judged) over every example (or every held-out
        case), for the system or a baseline arm; checks only the system can be judged on
        (its route) are left out of both, so the two compare on the same checks."""
        runs = (self.held_out if held_out else self.scenarios) if arm == "system" else [
            b for b in self.baselines if b.arm == arm and b.held_out == held_out]
        results = [r for run in runs for r in run.checks if r.kind != "route"]
        return pass_count(results)

    def routes(self) -> tuple[int, int]:
        """(examples the system sent to the agent their spec names, examples naming one):
        the check one call cannot be held to, so `passes` leaves it out."""
        return pass_count([r for s in self.scenarios for r in s.checks if r.kind == "route"])

    def cost(self, arm: str = "system") -> tuple[int, int]:
        """(model calls, tokens out) of an arm on the spec's examples."""
        runs = self.scenarios if arm == "system" else [
            b for b in self.baselines if b.arm == arm and not b.held_out]
        return sum(r.calls for r in runs), sum(r.tokens_out for r in runs)

    def decisions(self) -> tuple[int, int, int]:
        """(the system's passes, the vote's passes, checks judged for both) on the checks
        the equal-budget vote decided."""
        system = {(s.example, r.text): r.passed for s in self.scenarios for r in s.checks}
        both = [(system.get((b.example, r.text)), r.passed) for b in self.baselines
                if b.arm == "vote" and not b.held_out for r in b.checks]
        both = [(s, v) for s, v in both if s is not None and v is not None]
        return sum(bool(s) for s, _ in both), sum(bool(v) for _, v in both), len(both)


# --- tuning -------------------------------------------------------------------------


class Measure(Artefact):
    """The system measured on the spec's examples."""

    metric: float = Field(description="see TuningReport.metric_rule")
    checks_passed: int = 0
    checks_judged: int = Field(0, description="checks a rule judged on the answers")
    reached: int
    examples: int
    steps_approved: float = Field(description="fraction of steps approved")
    tokens_out: int
    seconds: float


class Trial(Artefact):
    change: str = Field(description="what was changed, e.g. 'max_new_tokens 160 -> 96'")
    agent: str | None = None
    setting: str
    value: Any = None
    measure: Measure | None = Field(None, description="None when the budget ran out first")
    kept: bool
    reason: str


class TuningReport(Artefact):
    """Stage 6: bounded changes, each kept only when measured better or as good for less."""

    metric_rule: str
    before: Measure
    after: Measure
    trials: list[Trial] = Field(default_factory=list)
    config: dict[str, Any] = Field(description="the chosen config.json")
    budget_s: float
    spent_s: float


# --- deployment ---------------------------------------------------------------------


class Deployment(Artefact):
    """Stage 7: a wheel built, installed in a fresh virtual environment and run once."""

    wheel: str = Field(description="file name under the package's dist/")
    wheel_sha256: str
    wheel_size: int
    package_sha256: str = Field(description="the package the wheel was built from")
    dockerfile_sha256: str
    compose_sha256: str
    venv: str = Field(description="how the fresh environment was made")
    installed: bool
    install_output: str = ""
    venv_bytes: int = Field(0, description="the venv's size with the package and its "
                            "dependencies (0: not measured)")
    install_s: float = Field(0.0, description="seconds to make the venv and install into it")
    command: list[str] = Field(description="the entry point run, as run")
    returncode: int = Field(description="0 when the entry point answered from the exit agent")
    answer: str = ""
    seconds: float
    network: str


# --- documentation ------------------------------------------------------------------


class Prose(Artefact):
    """A piece of the docs the model wrote (`autogenesis.acceptance.prose`): what it wrote,
    what the docs keep (its text, or the spec's words when it failed the checks)."""

    where: str = Field(description="e.g. 'overview' or 'agent planner'")
    agent: str | None = Field(None, description="the agent it describes (None: the system)")
    written: str
    kept: str
    by: Literal["model", "spec"]
    problems: list[str] = Field(default_factory=list)
    prompt: str = Field("", description="what the model was given (for the echo check)")


class Docs(Artefact):
    """Stage 8: README, ARCHITECTURE and per-agent reference + operations guide."""

    files: list[PackageFile] = Field(min_length=1)
    agents: list[str] = Field(description="agents with a reference section")
    commands: list[str] = Field(default_factory=list, description="every command shown")
    prose: list[Prose] = Field(default_factory=list)


# --- feedback -----------------------------------------------------------------------


FindingKind = Literal["rejection", "loop", "deadline", "failed_example", "unapproved_steps",
                      "slow_stage", "failed_tests"]


class Finding(Artefact):
    kind: FindingKind
    stage: str
    detail: str
    evidence: list[str] = Field(default_factory=list, description="ids of log rows")


class ChangeRequest(Artefact):
    stage: str = Field(description="the stage asked to change")
    request: str
    finding: int = Field(ge=0, description="index of the finding it answers")


class PromptProposal(Artefact):
    """A better prompt for a stage of autogenesis itself: logged, never applied silently."""

    stage: str
    template: str
    rejections: int
    proposal: str


class Feedback(Artefact):
    """Stage 9: findings from the run's own log and the changes they ask for."""

    iteration: int = Field(ge=1)
    findings: list[Finding] = Field(default_factory=list)
    requests: list[ChangeRequest] = Field(default_factory=list)
    proposals: list[PromptProposal] = Field(default_factory=list)
    next_stage: str | None = Field(None, description="where another iteration would start")


# --- the approver -----------------------------------------------------------------


class Check(Artefact):
    name: str
    passed: bool
    detail: str = ""
    by: Literal["rule", "model"] = "rule"
    blocking: bool = True


class Verdict(Artefact):
    stage: str
    kind: str
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    rework: str | None = Field(None, description="the earlier stage that can fix a "
                               "rejection (None: the stage itself)")
    shortfall: bool = Field(False, description="rejected only for how well a working system "
                            "answers: after its rounds the build goes on and reports it")
