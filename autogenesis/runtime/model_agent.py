"""An agent that does its work with the local model: what generated agents subclass.

A `ModelAgent` has a prompt (system prompt, output format, few-shot
examples) and decoding settings, and answers the four requests of `protocol`:

- `Task`: do your duty on `input`, given what earlier agents said
  (`context`) and, on a rework, the approver's `feedback` -> `Answer`;
- `Review`: judge another agent's `answer` -> `Judgement`; obvious failures
  (empty, over the word limit) are judged by rule first;
- `Choose`: pick one of `options` for `input` -> `Choice` (routers);
- `Bid`: how well `input` fits your duties, 0-10 -> `Score` (contract-net); with a
  `quantity` ("the number of hours it needs"), that number instead.

Judgements, choices and bids are decoded under a JSON schema made from their
types (`ModelJudgement`, ...), so even a small model answers in the expected shape.

Where the spec states rules, a generated agent class lists them: `rules`
are functions of the input (the package's `skills.py`) that compute facts
exactly; `fields` are typed facts the model fills in under a grammar when no
rule gave them (a choice from a stated list, a score within stated bounds);
`after` are functions applied to the model's answer (a stated count). The
facts lead the answer ("Severity: critical") and travel in the reply's
`facts`; an agent whose rules cover its duty (`prose = False`) answers with
the facts alone, and its step is not sent for review: rework cannot change
what a rule computes. An agent that `writes_code` answers with Python that
parses (asked again with the parser's complaint, at most `repairs` times).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import Field

from autogenesis.bus.message import Message
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.schema import Decoded, decoding_schema, one_of
from autogenesis.runtime.agent import Agent, handles
from autogenesis.runtime.protocol import (
    Answer,
    Bid,
    Choice,
    Choose,
    Judgement,
    Review,
    Said,
    Score,
    Task,
)
from autogenesis.runtime.skills import SkillError, parse_problem, python_code

Facts = dict[str, Any]



class ModelJudgement(Decoded):
    """A judge's answer, as the model fills it in."""

    approved: bool
    feedback: Annotated[str, Field(max_length=200)]


class ModelOffer(Decoded):
    """A bid as a quantity ("the number of hours it needs")."""

    bid: Annotated[float, Field(ge=0)]


class ModelScore(Decoded):
    """How well a task fits an agent's duties."""

    score: Annotated[int, Field(ge=0, le=10)]


JUDGEMENT_SCHEMA = decoding_schema(ModelJudgement)
OFFER_SCHEMA = decoding_schema(ModelOffer)
BID_SCHEMA = decoding_schema(ModelScore)
CONTEXT_WORDS = 120
FIELD_TOKENS = 320
"""The most a typed-fields answer decodes: room for a list of a few sentences."""


@dataclass(frozen=True)
class PromptConfig:
    """An agent's prompt as a generated package's config.json gives it (the build's
    `artefacts.AgentPrompt`, without the scoring)."""

    system: str
    output_format: str = ""
    examples: Sequence[tuple[str, str]] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PromptConfig:
        return cls(system=config["system"], output_format=config.get("output_format", ""),
                   examples=tuple((s["input"], s["output"]) for s in config.get("examples", ())))


def render_facts(facts: Mapping[str, Any]) -> str:
    """Facts as the lines that lead an answer: "Severity: critical"; a list as its
    numbered items."""
    lines = []
    for name, value in facts.items():
        label = name.replace("_", " ").capitalize()
        if isinstance(value, list):
            lines += [f"{label}:", *(f"{i}. {item}" for i, item in enumerate(value, 1))]
        else:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


class ModelAgent(Agent):
    """Subclass with a docstring saying what the agent is for; the prompt does the rest."""

    rules: ClassVar[tuple[Callable[[str], Mapping[str, Any]], ...]] = ()
    fields: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    after: ClassVar[tuple[Callable[[str], str], ...]] = ()
    prose: ClassVar[bool] = True
    writes_code: ClassVar[bool] = False
    repairs: ClassVar[int] = 2

    def __init__(self, name: str, *, model: Model, prompt: PromptConfig,
                 settings: Decoding | None = None, answer_words: int | None = None,
                 concurrency: int = 1) -> None:
        super().__init__(name, concurrency=concurrency)
        self.model = model
        self.prompt = prompt
        self.settings = settings or Decoding(max_new_tokens=160)
        self.answer_words = answer_words

    # --- prompts ------------------------------------------------------------

    def system_message(self) -> dict[str, str]:
        text = self.prompt.system
        if self.prompt.output_format:
            text += "\n\nOutput format: " + self.prompt.output_format
        return {"role": "system", "content": text}

    def task_messages(self, task: str, context: Sequence[Said] = (),
                      feedback: str | None = None,
                      facts: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        messages = [self.system_message()]
        for shot_input, shot_output in self.prompt.examples:
            if shot_input.strip() != task.strip():
                continue    # a shot answers its own input only: it must not leak elsewhere
            messages += [{"role": "user", "content": shot_input},
                         {"role": "assistant", "content": shot_output}]
        parts = [f"Task: {task}"]
        for earlier in context:  # cut long answers: small models copy what they are shown
            words = earlier["answer"].split()
            text = " ".join(words[:CONTEXT_WORDS]) + (" ..." if len(words) > CONTEXT_WORDS
                                                       else "")
            parts.append(f"From {earlier['agent']}:\n{text}")
        if facts:
            parts.append(f"Computed by rule (take these as given):\n{render_facts(facts)}")
        if feedback:
            parts.append(f"Your previous answer was rejected. Feedback: {feedback}\n"
                         "Answer again, fixing that.")
        messages.append({"role": "user", "content": "\n\n".join(parts)})
        return messages

    # --- the four requests ----------------------------------------------------

    @handles(Review)
    async def on_review(self, request: Review, message: Message) -> Judgement:
        verdict = await self.review(request.input, request.worker, request.answer)
        return Judgement(**verdict, worker=request.worker, round=request.round)

    @handles(Choose)
    async def on_choose(self, request: Choose, message: Message) -> Choice:
        return Choice(choice=await self.choose(request.input, request.options))

    @handles(Bid)
    async def on_bid(self, request: Bid, message: Message) -> Score:
        if request.quantity:
            return Score(score=await self.offer(request.input, request.quantity))
        return Score(score=await self.bid(request.input))

    @handles(Task)
    async def on_task(self, task: Task, message: Message) -> Answer:
        feedback = task.feedback
        if self.writes_code:
            return await self.code(task.input, task.context, feedback)
        if not (self.rules or self.fields or self.after):
            return Answer(answer=await self.answer(task.input, task.context, feedback))
        facts = await self.facts(task.input)
        if not self.prose:
            return Answer(answer=render_facts(facts), facts=facts, by="rule")
        answer = await self.answer(task.input, task.context, feedback, facts)
        for rule in self.after:
            answer = rule(answer)
        return Answer(answer=f"{render_facts(facts)}\n\n{answer}" if facts else answer,
                      facts=facts)

    async def answer(self, task: str, context: Sequence[Said] = (),
                     feedback: str | None = None,
                     facts: Mapping[str, Any] | None = None) -> str:
        result = await self.model.generate(self.task_messages(task, context, feedback, facts),
                                           settings=self.settings)
        return result.text.strip()

    async def code(self, task: str, context: Sequence[Said] = (),
                   feedback: str | None = None) -> Answer:
        """Python that parses: the model's answer, asked again with the parser's complaint
        at most `repairs` times; the last answer stands, marked, if it never parses."""
        asked = feedback
        for _ in range(self.repairs + 1):
            code = python_code(await self.answer(task, context, asked))
            problem = parse_problem(code)
            if problem is None:
                break
            asked = "\n".join(p for p in (feedback, f"Your code does not parse ({problem}). "
                                          "Answer with Python code only.") if p)
        return Answer(answer=code, code=code, parses=problem is None)

    async def facts(self, task: str) -> Facts:
        """What the rules compute from the input, then the typed fields no rule gave,
        filled in by the model under a grammar allowing only what the spec states."""
        facts: Facts = {}
        for rule in self.rules:
            try:
                facts.update(rule(task))
            except SkillError as exc:     # the rule cannot apply: say so, in its place
                facts[rule.__name__.removeprefix(f"{self.name}_")] = f"not computed: {exc}"
        wanted = {name: schema for name, schema in self.fields.items()
                  if facts.get(name) is None}
        if wanted:
            listing = "\n".join(
                f"- {name.replace('_', ' ')}" + (f" ({schema['maxItems']} of them)"
                                                 if "maxItems" in schema else "")
                for name, schema in wanted.items())
            messages = [self.system_message(), {"role": "user", "content": (
                f"Task: {task}\n\nGive:\n{listing}")}]
            schema = {"type": "object", "properties": dict(wanted),
                      "required": list(wanted), "additionalProperties": False}
            result = await self.model.generate(messages, schema=schema,
                                               settings=Decoding(max_new_tokens=FIELD_TOKENS))
            for name in wanted:
                facts[name] = (result.parsed or {}).get(name, f"not given: {result.problem}")
        return {name: value for name, value in facts.items() if value is not None}

    async def review(self, task: str, worker: str, answer: str) -> dict[str, Any]:
        if not answer.strip():
            return {"approved": False, "feedback": "the answer is empty", "by": "rule"}
        words = len(answer.split())
        if self.answer_words is not None and words > self.answer_words:
            return {"approved": False, "by": "rule",
                    "feedback": f"the answer has {words} words; keep it under "
                                f"{self.answer_words}"}
        messages = [self.system_message(), {"role": "user", "content": (
            f"Task: {task}\n\nAnswer from {worker}:\n{answer}\n\n"
            "Does this answer do the task well? Reply with approved true or false and one "
            "sentence of feedback.")}]
        result = await self.model.generate(messages, schema=JUDGEMENT_SCHEMA,
                                           settings=Decoding(max_new_tokens=80))
        if result.parsed is None:  # a judge that cannot answer does not block the work
            return {"approved": True, "feedback": f"no judgement: {result.problem}",
                    "by": "rule"}
        return {**result.parsed, "by": "model"}

    async def choose(self, task: str, options: Mapping[str, str]) -> str:
        names = list(options)
        listing = "\n".join(f"- {name}: {duty}" for name, duty in options.items())
        messages = [self.system_message(), {"role": "user", "content": (
            f"Task: {task}\n\nWho should handle it?\n{listing}")}]
        schema = decoding_schema(one_of("choice", tuple(names)))
        result = await self.model.generate(messages, schema=schema,
                                           settings=Decoding(max_new_tokens=24))
        return result.parsed["choice"] if result.parsed else names[0]

    async def offer(self, task: str, quantity: str) -> float:
        """A bid as the spec states it ("the number of hours it needs"): a number."""
        messages = [self.system_message(), {"role": "user", "content": (
            f"Task: {task}\n\nYour bid: {quantity}. Answer with the number.")}]
        result = await self.model.generate(messages, schema=OFFER_SCHEMA,
                                           settings=Decoding(max_new_tokens=16))
        return float(result.parsed["bid"]) if result.parsed else float("nan")

    async def bid(self, task: str) -> int:
        messages = [self.system_message(), {"role": "user", "content": (
            f"Task: {task}\n\nHow well does this task fit your skills, from 0 (not at all) "
            "to 10 (perfectly)?")}]
        result = await self.model.generate(messages, schema=BID_SCHEMA,
                                           settings=Decoding(max_new_tokens=16))
        return int(result.parsed["score"]) if result.parsed else 0
