"""Reading a spec, and what it states explicitly.

Specs come in every style: headed sections with bullet lists, tables, a heading
per agent, YAML front matter, free prose ("one helper should break the project
down, another should estimate ..."), a terse paragraph, a challenge that names
no agent at all. `parse_spec` finds deterministically everything a spec states
outright (`reader`), in its structure (`markdown`) and its sentences
(`prose`): title, goal, agents with their roles, groups, hand-offs, approval
loops, examples (`examples`), constraints and limits, and the topology with
the reason for it. What it cannot name (an unnamed "helper" with a duty) it
returns as an `ImpliedRole` for the understanding agent to name. `mentions`
is the approver's independent second reading; `team` derives a team for a
spec that names none.
"""

from autogenesis.spec.model import Group, ImpliedRole, Loop, ParsedSpec, StatedAgent
from autogenesis.spec.names import slugify, to_name
from autogenesis.spec.reader import parse_spec
from autogenesis.spec.reading import MAX_SPEC_BYTES, check_spec_text, read_spec

__all__ = ["MAX_SPEC_BYTES", "Group", "ImpliedRole", "Loop", "ParsedSpec", "StatedAgent",
           "check_spec_text", "parse_spec", "read_spec", "slugify", "to_name"]
