"""Faults injected into requests: throttling, server errors, broken transfers."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "500", "503", "drop", "truncate", "garbage")


@dataclass
class Faults:
    """What goes wrong, counted over the requests matching ``path_contains``.

    ``schedule`` maps 1-based request numbers to a fault kind; ``rate`` picks a random
    fault from ``kinds`` with that probability (seeded, reproducible).
    """

    schedule: dict[int, str] = field(default_factory=dict)
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: str = "1"
    path_contains: str = "/Messages.json"
    methods: tuple[str, ...] = ("GET",)

    def __post_init__(self) -> None:
        bad = [k for k in [*self.schedule.values(), *self.kinds] if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kind(s): {bad}")
        self._rng = random.Random(self.seed)
        self._count = 0
        self._lock = threading.Lock()

    def pick(self, method: str, path: str) -> str | None:
        """Count the request and return the fault to inject, if any."""
        if method not in self.methods or self.path_contains not in path:
            return None
        with self._lock:
            self._count += 1
            if self._count in self.schedule:
                return self.schedule[self._count]
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None
