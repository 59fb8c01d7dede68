"""What a simulated worker notes when an offer reaches it: how long the push took (from the
dispatcher's decision) and how long since the platform submitted the task."""

import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fairtask_bench.workload import stamped_at


@dataclass
class Samples:
    """Delays in seconds, gathered while recording."""

    push_s: list[float] = field(default_factory=list)
    submit_to_offer_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def extend(self, other: "Samples") -> None:
        self.push_s += other.push_s
        self.submit_to_offer_s += other.submit_to_offer_s
        self.errors.update(other.errors)


class Recorder:
    """Counts every offer in a counter shared with the coordinating process (which alone reads
    it, so no lock: one writer, aligned 64-bit stores), and keeps delays while recording."""

    def __init__(self, counter: Any) -> None:
        self._counter = counter
        self.recording = False
        self.samples = Samples()

    def offered(self, offered_at_s: float, payload: bytes) -> None:
        now = time.time()
        self._counter.value += 1
        if not self.recording:
            return
        self.samples.push_s.append(now - offered_at_s)
        try:
            self.samples.submit_to_offer_s.append(now - stamped_at(payload))
        except struct.error:
            self.samples.errors["payload without a submit stamp"] += 1

    def delivered(self, queued_at_s: float) -> None:
        """A polled task reached its worker (no push, so only the wait since it was queued)."""
        now = time.time()
        self._counter.value += 1
        if self.recording:
            self.samples.submit_to_offer_s.append(now - queued_at_s)

    def error(self, code: str) -> None:
        self.samples.errors[code] += 1

    def take(self) -> Samples:
        taken, self.samples = self.samples, Samples()
        return taken
