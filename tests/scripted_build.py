"""A scripted stand-in for the model in build tests: answers by the schema it is asked for.

Stage logic is tested with it; the real default model runs in test_build_real.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from autogenesis.llm.testing import FunctionModel

NAMES = ("planner", "explainer", "quiz_writer", "estimator", "checker_two")


class BuildAnswers:
    """Names implied agents from a fixed list, picks the first enum value, approves when
    `judge`, and answers free text with a short sentence that echoes the request."""

    def __init__(self, *, judge: bool = True, vary: bool = True) -> None:
        self.names = itertools.cycle(NAMES if vary else NAMES[:1])
        self.judge = judge

    def __call__(self, messages: list[dict[str, str]], schema: Mapping[str, Any] | None,
                 settings: Any) -> Any:
        if schema is None:
            last = messages[-1]["content"].split("\n")[0][:80]
            return f"You are a careful agent. You handle this: {last}."
        fields = schema["properties"]
        if "name" in fields:
            return {"name": next(self.names)}
        if "agents" in fields:
            return {"agents": [{"name": "helper", "duty": "does the work"}]}
        if "topology" in fields:
            return {"topology": fields["topology"]["enum"][0]}
        if "approved" in fields:
            return {"approved": self.judge,
                    "feedback": "looks right" if self.judge else "not good"}
        if "choice" in fields:
            return {"choice": fields["choice"]["enum"][0]}
        return {"score": 5}


def build_model(*, judge: bool = True) -> FunctionModel:
    return FunctionModel(BuildAnswers(judge=judge))
