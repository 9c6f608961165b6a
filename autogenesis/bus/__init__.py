"""The async message bus: messages, loop detection, deadlines, transports."""

from autogenesis.bus.bus import Bus, BusStats
from autogenesis.bus.loops import LoopDetector
from autogenesis.bus.message import BROADCAST, Message
from autogenesis.bus.transport import InProcessTransport, Transport, topic_matches

__all__ = [
    "BROADCAST", "Bus", "BusStats", "InProcessTransport", "LoopDetector", "Message",
    "Transport", "topic_matches",
]
