"""The one retry policy: exponential backoff with jitter, reset by progress.

The input and both network outputs retry through this. Backoff is for failures in a row without
progress: a session that was established and delivered something, or a batch that went through,
starts the next failure again from the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass


def backoff(attempt: int, low: float, high: float, fraction: float) -> float:
    """`fraction` (0..1, random) picks between half and all of `low * 2**attempt`, capped at
    `high`. Jitter keeps many connectors from retrying in step."""
    ceiling = min(high, low * (1 << min(attempt, 30)))
    return ceiling * (0.5 + fraction / 2)


@dataclass
class Backoff:
    """Consecutive failures since the last progress, and the delay before the next attempt."""

    low: float
    high: float
    failures: int = 0

    def failed(self, fraction: float) -> float:
        """One more failure in a row: the seconds to wait before trying again."""
        delay = backoff(self.failures, self.low, self.high, fraction)
        self.failures += 1
        return delay

    def progressed(self) -> None:
        self.failures = 0
