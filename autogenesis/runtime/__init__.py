"""What generated systems import: agents, networks, and the bus they run on."""

from autogenesis.bus import Bus, Message
from autogenesis.bus.body import Body
from autogenesis.runtime.agent import Agent, Network, handles

__all__ = ["Agent", "Body", "Bus", "Message", "Network", "handles"]
