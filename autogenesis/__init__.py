"""autogenesis: a hierarchy of local LLM agents that builds multi-agent systems from a spec."""

__version__ = "0.1.0"
