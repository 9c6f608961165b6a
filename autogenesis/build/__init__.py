"""The build: `autogenesis build` turns a spec into a tested, installable package.

`stages` declares the stages in run order (each one's agent, artefact, inputs, checks
and rework routes); `agents/` holds the stage agents and the approver; `orchestrator`
runs the stages over the bus, with the round, rework and loop state of `state`;
`codegen` renders the package from `templates/`; `scenarios` runs the package in the
sandbox; `worker` serves stage agents from another process.
"""
