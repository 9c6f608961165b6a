"""Stage 3, prompt design: `Blueprint` -> `PromptSet`.

Two variants of every agent's system prompt: `template` (written by rule from
the agent's kind, duties and limits) and `model` (written by the model from
the same facts); the agent that gives the system's answer gets a third,
`one_call`, the prompt of the one-call baseline (the spec's goal and every
duty), so the system is never denied what one call does. Each is tried on the
spec's first example (on every example when testing sent the work back) and
scored; the best is kept, fewer trial tokens breaking a tie, then the template:

    score    = 0.5 * coverage + 0.5 * trial
    coverage = share of the content words of the agent's duties found in the prompt
    trial    = mean over the examples tried of the share of the example's checks
               the trial answer passes (all of them for the answering agent; for
               another, those any step must pass); 0 for an answer that repeats
               itself; with no check to run: 0.4 for a non-empty answer, + 0.3
               when it keeps the word limit, + 0.3 * min(1, words shared with the
               duties and the input / 3)

The kept variant's trial answer on the first example becomes the agent's few-shot
example when its trial score is at least 0.7 and it passes that example's checks
(a bootstrapped demonstration). A generated agent shows a shot only for the
input it answers, so it never leaks into another input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from autogenesis.acceptance import run_checks
from autogenesis.acceptance.prose import repetition
from autogenesis.artefacts import (
    AcceptanceCheck,
    AgentDesign,
    AgentPrompt,
    Blueprint,
    Check,
    Example,
    PromptSet,
    Shot,
    VariantScore,
)
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.checks import check
from autogenesis.build.agents.testing import one_call_messages
from autogenesis.build.codegen import PLACEHOLDER
from autogenesis.build.messages import ImprovePrompt, Proposal
from autogenesis.bus.message import Message
from autogenesis.llm.base import Decoding
from autogenesis.llm.concurrent import at_once
from autogenesis.runtime.agent import handles

MIN_PROMPT_COVERAGE = 0.5

SCORE_RULE = __doc__.split("then the template:")[1].split("The kept")[0].strip()
TRIAL_TOKENS = 64
SHOT_THRESHOLD = 0.7
ANSWERING = ("worker", "manager", "aggregator")
"""Kinds whose answer, as the exit agent, is the system's answer in plain text."""
STOPWORDS = frozenset([
    "about", "after", "also", "and", "any", "are", "because", "been", "before", "being",
    "both", "but", "can", "does", "each", "either", "every", "from", "given", "have", "into",
    "just", "more", "most", "must", "only", "other", "over", "should", "some", "such", "than",
    "that", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "under", "very", "what", "when", "where", "which", "while", "will", "with", "within",
    "would", "your", "yours", "the", "for", "its", "it's", "one", "two", "three"
])

FORMATS = {
    "worker": "Plain text{limit}. Answer the task directly, without repeating it.",
    "approver": "When reviewing: approved true or false, with one sentence of feedback.",
    "router": "When choosing: the name of the one agent that should answer.",
    "manager": "Plain text{limit}: the final answer, combined from the workers' results.",
    "aggregator": "Plain text{limit}: the decision, with the reason in one sentence.",
    "monitor": "Plain text: one line per agent that failed, was not approved or was slow; "
               "'all steps ran' when none did.",
}
KIND_LINES = {
    "worker": "Do only your part; other agents handle the rest.",
    "approver": "Approve an answer that does its task; otherwise say exactly what to fix.",
    "router": "Choose the one agent whose duties fit the input best.",
    "manager": "Approve each worker's result or say what to fix, then combine the results.",
    "aggregator": "Weigh the members' answers and votes fairly and decide by majority.",
    "monitor": "Watch the other agents' steps and name every one that failed or stalled.",
}


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in STOPWORDS}


def coverage(prompt: str, duties: Iterable[str]) -> float:
    wanted = content_words(" ".join(duties))
    if not wanted:
        return 1.0
    have = content_words(prompt)
    found = {w for w in wanted if w in have or w.rstrip("s") in have or f"{w}s" in have}
    return round(len(found) / len(wanted), 3)


def trial_score(answer: str, duties: Iterable[str], task: str, limit: int) -> float:
    """The trial score of an answer no check applies to (see the module's rule)."""
    if not answer.strip():
        return 0.0
    score = 0.4
    if len(answer.split()) <= limit:
        score += 0.3
    shared = content_words(answer) & (content_words(" ".join(duties)) | content_words(task))
    return round(score + 0.3 * min(1.0, len(shared) / 3), 3)


def checks_score(answer: str, checks: list[AcceptanceCheck]) -> float | None:
    """The share of `checks` (those a rule can judge) the answer passes; None if none."""
    judged = [r.passed for r in run_checks(checks, answer) if r.passed is not None]
    return round(sum(judged) / len(judged), 3) if judged else None


def trial_checks(example: Example, *, is_exit: bool) -> list[AcceptanceCheck]:
    """The checks an agent's answer alone is held to: all of the example's (bar the route)
    for the agent whose answer is the system's, for another those any step must pass
    (about the input; nothing the spec forbids)."""
    return [c for c in example.checks if c.kind != "route"
            and (is_exit or c.source == "input" or c.kind == "absent")]


def shot_passes(answer: str, blueprint: Blueprint, *, is_exit: bool) -> bool:
    """A trial answer may become a few-shot example only when it is not junk and passes
    its example's checks (`trial_checks`)."""
    if repetition(answer) is not None or not blueprint.examples:
        return False
    checks = trial_checks(blueprint.examples[0], is_exit=is_exit)
    return all(r.passed is not False for r in run_checks(checks, answer))


def template_prompt(agent: AgentDesign, blueprint: Blueprint) -> str:
    duties = "; ".join(agent.duties)
    limit = f" Keep answers under {blueprint.answer_words} words." if blueprint.answer_words \
        else ""
    return (f"You are {agent.name}, the {agent.kind} in \"{blueprint.title}\", a team of "
            f"agents whose goal is: {blueprint.goal} Your duties: {duties}. "
            f"{KIND_LINES[agent.kind]}{limit}")


def output_format(agent: AgentDesign, blueprint: Blueprint) -> str:
    limit = f", at most {blueprint.answer_words} words" if blueprint.answer_words else ""
    return FORMATS[agent.kind].format(limit=limit)


def clean_model_prompt(text: str) -> str:
    """The model's prompt as one paragraph, without template syntax or a cut-off tail."""
    text = " ".join(text.replace("{", "(").replace("}", ")").split())
    text = PLACEHOLDER.sub("", text)[:700]
    if "." in text and not text.endswith((".", "!", "?")):
        text = text[: text.rfind(".") + 1]
    return text.strip().strip('"')


class PromptDesign(StageAgent):
    stage = "prompt_design"
    produces = PromptSet

    @handles(ImprovePrompt)     # the feedback stage asks for a better prompt of ours
    async def on_improve_prompt(self, request: ImprovePrompt, message: Message) -> Proposal:
        return Proposal(proposal=await self.improve(request.stage, request.reasons))

    async def improve(self, stage: str, reasons: list[str]) -> str:
        """A better system prompt for stage `stage` of autogenesis (proposed, not applied)."""
        current = self.prompts.source(stage) if stage in self.prompts.names() else ""
        messages = self.prompts.messages("prompt_improvement", stage=stage,
                                         current=current[:1200], reasons=reasons)
        result = await self.model.generate(messages, settings=Decoding(max_new_tokens=120))
        return clean_model_prompt(result.text)

    async def produce(self, work: Work) -> PromptSet:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        examples = blueprint.examples or [Example(input=blueprint.goal)]
        if not work.feedback:   # a first try: the first example; a rework: every one
            examples = examples[:1]
        designed = await at_once([self._design(agent, blueprint, examples, work)
                                  for agent in blueprint.agents], work.concurrency)
        return PromptSet(prompts=[prompt for prompt, _ in designed],
                         scored=[score for _, scores in designed for score in scores],
                         score_rule=SCORE_RULE)

    async def _design(self, agent: AgentDesign, blueprint: Blueprint, examples: list[Example],
                      work: Work) -> tuple[AgentPrompt, list[VariantScore]]:
        """One agent's prompt: its variants written, tried and scored; the best kept."""
        fmt = output_format(agent, blueprint)
        written = await self.ask(
            "prompt_design", work, max_new_tokens=96, title=blueprint.title,
            goal=blueprint.goal, name=agent.name, kind=agent.kind, duties=agent.duties,
            words=blueprint.answer_words)
        is_exit = agent.name == blueprint.exit
        variants = {"template": template_prompt(agent, blueprint),
                    "model": clean_model_prompt(written.text)}
        if is_exit and agent.kind in ANSWERING:
            variants["one_call"] = self.one_call_prompt(blueprint)
        results = await at_once([self._score(agent, blueprint, name, text, fmt, examples,
                                             is_exit=is_exit, work=work)
                                 for name, text in variants.items() if text], work.concurrency)
        best = max(results, key=lambda r: (r.score, -r.tokens, r.variant == "template"))
        shot = clean_model_prompt(best.trial_answer)
        shots = [Shot(input=examples[0].input, output=shot)] \
            if best.trial >= SHOT_THRESHOLD \
            and shot_passes(shot, blueprint, is_exit=is_exit) else []
        return AgentPrompt(agent=agent.name, system=variants[best.variant], output_format=fmt,
                           examples=shots, variant=best.variant, score=best.score), results

    def one_call_prompt(self, blueprint: Blueprint) -> str:
        """The system prompt of the one-call baseline (testing's), for the answering agent."""
        return one_call_messages(self.prompts, blueprint, "")[0]["content"].strip()

    async def _score(self, agent: AgentDesign, blueprint: Blueprint, variant: str, text: str,
                     fmt: str, examples: list[Example], *, is_exit: bool,
                     work: Work) -> VariantScore:
        limit = blueprint.answer_words or round(agent.model.max_new_tokens / 1.4)
        settings = Decoding(max_new_tokens=min(TRIAL_TOKENS, agent.model.max_new_tokens))
        ran = await at_once([self.model.generate(
            [{"role": "system", "content": f"{text}\n\nOutput format: {fmt}"},
             {"role": "user", "content": f"Task: {example.input}"}], settings=settings)
            for example in examples], work.concurrency)
        trials, answers, tokens = [], [], 0
        for example, result in zip(examples, ran, strict=True):
            answer = result.text.strip()
            by_checks = checks_score(answer, trial_checks(example, is_exit=is_exit))
            if answer and repetition(answer) is not None:
                trials.append(0.0)
            elif by_checks is not None and answer:
                trials.append(by_checks)
            else:
                trials.append(trial_score(answer, agent.duties, example.input, limit))
            answers.append(answer)
            tokens += result.tokens_out
        cov = coverage(text, agent.duties)
        trial = round(sum(trials) / len(trials), 3)
        return VariantScore(agent=agent.name, variant=variant, system=text, coverage=cov,
                            trial=trial, score=round(0.5 * cov + 0.5 * trial, 3),
                            trial_answer=answers[0], tokens=tokens)


# --- the approver's checks of this stage's artefact ---------------------------


def prompt_checks(ps: PromptSet, bp: Blueprint) -> list[Check]:
    prompted = {p.agent: p for p in ps.prompts}
    variants: dict[str, set[str]] = {}
    for score in ps.scored:
        variants.setdefault(score.agent, set()).add(score.variant)
    return [
        check("every_agent_prompted",
              (f"agent {a.name!r} has no prompt" for a in bp.agents if a.name not in prompted)),
        check("duties_in_prompt",
              (f"the prompt of {a.name!r} covers {cov:.0%} of its duties (< "
               f"{MIN_PROMPT_COVERAGE:.0%})" for a in bp.agents if a.name in prompted
               and (cov := coverage(prompted[a.name].system, a.duties)) < MIN_PROMPT_COVERAGE)),
        check("output_format_given",
              (f"the prompt of {p.agent!r} has no output format" for p in ps.prompts
               if not p.output_format.strip())),
        check("no_placeholder",
              (f"the prompt of {p.agent!r} has an unfilled placeholder" for p in ps.prompts
               if PLACEHOLDER.search(p.system + p.output_format))),
        check("variants_scored",
              (f"agent {a.name!r} has {len(variants.get(a.name, ()))} scored variant(s), "
               "needs 2" for a in bp.agents if len(variants.get(a.name, ())) < 2)),
    ]
