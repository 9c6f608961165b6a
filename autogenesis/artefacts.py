"""Typed artefacts passed between the stages; their JSON schemas come from these types.

Pydantic models at this boundary: the same class gives the schema for
constrained decoding (`schema_of`), validates what the model produced, and
serialises the artefact for the log. The first is here; the stage issues
add the rest (Blueprint, PromptSet, Package, Verdict, ...).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AgentDuty(BaseModel):
    name: str = Field(max_length=40, description="the agent's name, as the spec gives it")
    duties: list[str] = Field(max_length=6, description="what the agent must do")


class Example(BaseModel):
    input: str = Field(max_length=400)
    expected: str = Field(max_length=400)


class Requirements(BaseModel):
    """Stage 1: what the spec asks for."""

    title: str = Field(max_length=80)
    goal: str = Field(max_length=400)
    agents: list[AgentDuty] = Field(min_length=1, max_length=12)
    flow: list[str] = Field(max_length=24, description="steps like 'planner -> researcher'")
    examples: list[Example] = Field(max_length=8)
    constraints: list[str] = Field(max_length=12)
    topology_hint: str = Field(max_length=40)
