"""The agents of autogenesis: each turns its input artefacts into one output artefact.

The nine stage workers (understanding, design, prompt design, generator,
testing, tuning, documentation, deployment, feedback) and the hierarchy
approver that judges every artefact. Each is an `Agent` on the bus; the
pipeline (`autogenesis.build.orchestrator`) sends them requests and logs what they answer;
`autogenesis.build.stages` says in which order and with what.
"""

from autogenesis.build.agents.approver import Approver
from autogenesis.build.agents.base import StageAgent, Work
from autogenesis.build.agents.deployment import DeploymentStage
from autogenesis.build.agents.design import Design
from autogenesis.build.agents.documentation import Documentation
from autogenesis.build.agents.feedback import FeedbackStage
from autogenesis.build.agents.generator import Generator
from autogenesis.build.agents.prompt_design import PromptDesign
from autogenesis.build.agents.testing import Testing
from autogenesis.build.agents.tuning import Tuning
from autogenesis.build.agents.understanding import Understanding

__all__ = ["Approver", "DeploymentStage", "Design", "Documentation",
           "FeedbackStage", "Generator", "PromptDesign", "StageAgent", "Testing", "Tuning",
           "Understanding", "Work"]
