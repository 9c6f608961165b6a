"""Re-execute a logged build from its log, and resume an interrupted one.

Both run the same pipeline (`pipeline.Build`) again with three things swapped:

- the model: each agent's n-th call is answered with its n-th logged
  completion, after checking the call is the same (`llm.replay.ReplayModel`);
- the observer: the sandbox's results and the clock readings come from the
  log (`observe.Observer` given the logged observations);
- the store: a `Mirror` that holds every record the pipeline logs against the
  original's record in the same place (the n-th message, verdict, event and
  system run; an artefact's kind and version; a file's path; an agent's n-th
  model call or observation) and compares the parts that are not measured
  time. Ids are the one thing a re-execution makes anew: each new id is paired
  with the original's when its record matches, and translated before every
  comparison, so a verdict must point at the same artefact, a reply at the
  same request, a file at the same message.

`reexecute` writes nothing into the original run. It stops at the first
difference (`ReplayMismatch`: stage, agent, place, diff), checks at the end
that the original has nothing the re-execution did not produce, and compares
the files written to its own folder with the logged sha256 of each.

`resume` replays the same way until the log runs out, then goes on live: the
model, the sandbox and the clock for real, and every further record written
to the original run (ids of replayed records translated to the original's),
so that no approved stage is redone and no row is written twice.
"""

from autogenesis.replay.logged import LoggedRun
from autogenesis.replay.mirror import Mirror
from autogenesis.replay.run import Reexecution, reexecute, resume

__all__ = ["LoggedRun", "Mirror", "Reexecution", "reexecute", "resume"]
