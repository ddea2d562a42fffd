"""The simulated network: every message is delayed, and may be dropped, duplicated or cut off.

Messages travel encoded (msgspec msgpack, as on the wire) and each gets its own random delay, so
messages overtake each other. A cut link ``(a, b)`` loses what ``a`` sends ``b`` (one way only, so
asymmetric partitions are a set of cut links); a cut is checked when the message arrives too, so
a partition also swallows what was already in flight.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass

from cluster.raft import Message, decode_message, encode_message


@dataclass(frozen=True, slots=True)
class Faults:
    """How bad the network is: probabilities per message, delays in simulation steps."""

    drop: float = 0.0
    duplicate: float = 0.0
    min_delay_steps: int = 1
    max_delay_steps: int = 3


class SimNetwork:
    def __init__(self, rng: random.Random, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.cut: set[tuple[str, str]] = set()
        self._in_flight: list[tuple[int, int, str, str, bytes]] = []
        self._seq = 0
        self.sent = 0
        self.delivered = 0
        self.sent_by_type: dict[str, int] = {}
        self.trace = hashlib.blake2b(digest_size=16)  # every delivery, in order: two equal runs match

    def send(self, now: int, msg: Message) -> None:
        self.sent += 1
        name = msg.type.name
        self.sent_by_type[name] = self.sent_by_type.get(name, 0) + 1
        if (msg.sender, msg.to) in self.cut:
            return
        rng, faults = self.rng, self.faults
        if faults.drop and rng.random() < faults.drop:
            return
        copies = 2 if faults.duplicate and rng.random() < faults.duplicate else 1
        frame = encode_message(msg)
        for _ in range(copies):
            delay = rng.randint(faults.min_delay_steps, faults.max_delay_steps)
            self._seq += 1
            heapq.heappush(self._in_flight, (now + delay, self._seq, msg.sender, msg.to, frame))

    def due(self, now: int) -> list[Message]:
        """Messages arriving at step ``now``, in arrival order."""
        out: list[Message] = []
        heap = self._in_flight
        while heap and heap[0][0] <= now:
            _, _, sender, to, frame = heapq.heappop(heap)
            if (sender, to) not in self.cut:
                self.trace.update(b"%d|" % now + frame)
                out.append(decode_message(frame))
        self.delivered += len(out)
        return out

    def isolate(self, node_id: str, others: list[str]) -> None:
        for other in others:
            if other != node_id:
                self.cut |= {(node_id, other), (other, node_id)}

    def partition(self, groups: list[list[str]]) -> None:
        """Cut every link between different groups (both ways)."""
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                for a in group:
                    for b in other:
                        self.cut |= {(a, b), (b, a)}

    def heal(self) -> None:
        self.cut.clear()
