"""The agents of autogenesis: each turns its input artefacts into one output artefact.

Stages 1-4 (understanding, design, prompt design, generator) and the hierarchy
approver that judges every artefact. Each is an `Agent` on the bus; the
pipeline (`autogenesis.pipeline`) sends them requests and logs what they answer.
"""

from autogenesis.agents.approver import Approver
from autogenesis.agents.base import StageAgent, Work
from autogenesis.agents.design import Design
from autogenesis.agents.generator import Generator
from autogenesis.agents.prompt_design import PromptDesign
from autogenesis.agents.understanding import Understanding

STAGES: tuple[type[StageAgent], ...] = (Understanding, Design, PromptDesign, Generator)

__all__ = ["STAGES", "Approver", "Design", "Generator", "PromptDesign", "StageAgent",
           "Understanding", "Work"]
