"""Reading a logged run back: `report` (what a build made and why), `diagram` (a
system's topology as Mermaid) and `timeline` (a run's messages and calls in order)."""
