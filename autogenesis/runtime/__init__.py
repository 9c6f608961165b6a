"""What generated systems import: agents, networks, and the bus they run on."""

from autogenesis.bus import Bus, Message
from autogenesis.runtime.agent import Agent, Network

__all__ = ["Agent", "Bus", "Message", "Network"]
