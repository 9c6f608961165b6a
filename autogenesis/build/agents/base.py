"""What every stage agent shares: the request it gets, and how it asks the model.

A stage agent receives a `Produce` request (the stage's inputs, the round, the
approver's reasons, whether to perturb) and replies `Produced` (its artefact). Its
`produce(work)` does the stage's job: rules for what is explicit, the model
(through its template in `prompts/`) for the rest. On a rework the
approver's reasons travel in `feedback` and are appended to every prompt;
with `perturb` one extra sentence is appended too (the paper's remedy for a
worker that keeps answering with the same rejected artefact).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

from autogenesis.artefacts import Artefact
from autogenesis.build.messages import Produce, Produced
from autogenesis.build.prompts import Prompts
from autogenesis.bus.message import Message
from autogenesis.llm.base import Decoding, Generation, Model
from autogenesis.runtime.agent import Agent, handles

PERTURBATION = ("Your previous answer was rejected and you gave the same answer again: "
                "this time, change it so that it addresses every reason above.")


@dataclass(frozen=True)
class Work:
    """One request to a stage agent."""

    inputs: Mapping[str, Any]
    round: int = 1
    feedback: list[str] = field(default_factory=list)
    perturb: bool = False
    run_id: UUID | None = None   # the build's run (stages that start runs of their own)
    concurrency: int = 1         # model calls it may have in flight at once (`at_once`)

    @classmethod
    def asked(cls, request: Produce, message: Message) -> Work:
        return cls(inputs=request.inputs, round=request.round,
                   feedback=list(request.feedback), perturb=request.perturb,
                   run_id=message.run_id, concurrency=request.concurrency)


class StageAgent(Agent):
    """A worker of the build: `stage` names it and its artefact type is `produces`."""

    stage: ClassVar[str]
    produces: ClassVar[type[Artefact]]

    def __init__(self, model: Model, prompts: Prompts) -> None:
        super().__init__(self.stage)
        self.model = model
        self.prompts = prompts

    @handles(Produce)
    async def on_produce(self, request: Produce, message: Message) -> Produced:
        artefact = await self.produce(Work.asked(request, message))
        return Produced(artefact=artefact.model_dump(mode="json"), round=request.round)

    async def produce(self, work: Work) -> Artefact:
        raise NotImplementedError

    async def ask(self, template: str, work: Work, *, schema: Mapping[str, Any] | None = None,
                  max_new_tokens: int = 64, **variables: Any) -> Generation:
        """Render `prompts/<template>.j2`, add the rework's feedback, and call the model."""
        messages = self.prompts.messages(template, **variables)
        extra = []
        if work.feedback:
            extra.append("The approver rejected the previous attempt:\n"
                         + "\n".join(f"- {reason}" for reason in work.feedback))
        if work.perturb:
            extra.append(PERTURBATION)
        if extra:
            messages[-1]["content"] += "\n\n" + "\n\n".join(extra)
        return await self.model.generate(messages, schema=schema,
                                         settings=Decoding(max_new_tokens=max_new_tokens))
