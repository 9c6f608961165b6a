"""Stage 4, generator: `Blueprint` + `PromptSet` -> `Package`.

The files come from the jinja2 templates (`autogenesis.codegen`): rules, not
the model, write the code. The model writes one line of prose, the package's
description, which reaches the templates only as a quoted string.
"""

from __future__ import annotations

import re

from autogenesis.agents.base import StageAgent, Work
from autogenesis.artefacts import Blueprint, Package, PromptSet
from autogenesis.codegen import PLACEHOLDER, render_package


def clean_description(text: str, fallback: str) -> str:
    line = " ".join(text.split()).strip("\"' ")
    line = PLACEHOLDER.sub("", line)
    line = re.split(r"(?<=[.!?])\s", line)[0][:160].strip()
    return line if len(line.split()) >= 4 else fallback


class Generator(StageAgent):
    stage = "generator"
    produces = Package

    async def produce(self, work: Work) -> Package:
        blueprint = Blueprint.model_validate(work.inputs["blueprint"])
        prompts = PromptSet.model_validate(work.inputs["prompt_set"])
        result = await self.ask("generator", work, max_new_tokens=48, slug=blueprint.slug,
                                title=blueprint.title, goal=blueprint.goal,
                                agents=[a.name for a in blueprint.agents])
        fallback = re.split(r"(?<=[.!?])\s", blueprint.goal)[0][:160]
        return render_package(blueprint, prompts, clean_description(result.text, fallback))
