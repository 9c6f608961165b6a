"""The agents of autogenesis: each turns its input artefacts into one output artefact.

The nine stage workers (understanding, design, prompt design, generator,
testing, tuning, documentation, deployment, feedback) and the hierarchy
approver that judges every artefact. Each is an `Agent` on the bus; the
pipeline (`autogenesis.pipeline`) sends them requests and logs what they answer;
`autogenesis.stages` says in which order and with what.
"""

from autogenesis.agents.approver import Approver
from autogenesis.agents.base import StageAgent, Work
from autogenesis.agents.deployment import DeploymentStage
from autogenesis.agents.design import Design
from autogenesis.agents.documentation import Documentation
from autogenesis.agents.feedback import FeedbackStage
from autogenesis.agents.generator import Generator
from autogenesis.agents.prompt_design import PromptDesign
from autogenesis.agents.testing import Testing
from autogenesis.agents.tuning import Tuning
from autogenesis.agents.understanding import Understanding

__all__ = ["Approver", "DeploymentStage", "Design", "Documentation",
           "FeedbackStage", "Generator", "PromptDesign", "StageAgent", "Testing", "Tuning",
           "Understanding", "Work"]
