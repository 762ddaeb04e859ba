"""The one delivery policy: how a batch reaches an output.

Like Fluent Bit's flush callbacks (`FLB_OK`, `FLB_RETRY`, `FLB_ERROR`) and Vector's sinks, an
output keeps only its protocol (`Output`, in `runtime/plugin.py`): it renders one event in its
model as wire bytes (`encode`) and makes one attempt at sending a batch of them (`send`), raising
a `PodshipError` that says whether a retry can help. Retries, backoff, counting and the log lines
about them live here, once for every output.

An event that an output cannot render or encode (a key no encoder takes, a value of no JSON type,
a model that raises) is never a reason to stop: it is set aside with the reason, counted, and the rest of
the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter

from podship.core.event.envelope import Event
from podship.core.retry import Backoff
from podship.errors import PodshipError
from podship.runtime.plugin import Encoded, Output

log = logging.getLogger("podship.delivery")
RETRY_MIN_SECS = 0.1
REPEAT_SECS = 60.0  # a failure that goes on is said again at most this often


class Repeats:
    """Says a repeated thing once, then at most once every REPEAT_SECS with how often it happened."""

    def __init__(self) -> None:
        self.count, self._said = 0, -REPEAT_SECS

    def due(self, now: float) -> bool:
        self.count += 1
        if now - self._said < REPEAT_SECS:
            return False
        self._said = now
        return True

    def reset(self) -> int:
        count, self.count, self._said = self.count, 0, -REPEAT_SECS
        return count


class Delivery:
    """Batches into one output, with its counters (records sent and set aside, attempts retried,
    batches failed for good)."""

    def __init__(self, output: Output, label: str = "") -> None:
        self.output, self.label = output, label or output.name
        self.counts: Counter[str] = Counter(sent=0, retried=0, failed=0, dead_letters=0)
        self._failures, self._asides = Repeats(), Repeats()

    async def deliver(self, events: list[Event]) -> list[tuple[int, str]]:
        """Until the output has taken every record it can encode; the others, as (index, reason),
        for the caller to set aside."""
        batch: list[Encoded] = []
        asides: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            encoded = self.encode(event)
            if isinstance(encoded, str):
                asides.append((index, encoded))
            else:
                batch.append(encoded)
        if batch:
            await self.send(batch)
        return asides

    def encode(self, event: Event) -> Encoded | str:
        """The event as the output sends it, or why it cannot be (said, counted): the caller sets
        it aside."""
        try:
            return self.output.encode(event)
        except Exception as exc:  # whatever a model or encoder raises: a record never stops us
            reason = f"{self.label}: {_reason(exc)}"
            self._said_aside(reason)
            return reason

    def _said_aside(self, reason: str) -> None:
        self.counts["dead_letters"] += 1
        if self._asides.due(time.monotonic()):
            more = f" ({self._asides.count} so far)" if self._asides.count > 1 else ""
            log.warning("output %s set a record aside%s: %s", self.label, more, reason)

    async def send(self, batch: list[Encoded]) -> None:
        """Until the output has the batch, retried with backoff while it says a retry can help."""
        retry, attempt = Backoff(RETRY_MIN_SECS, self.output.reconnect_max), 0
        while True:
            try:
                await self.output.send(batch, attempt)
            except PodshipError as exc:
                self.counts["retried" if exc.retryable else "failed"] += 1
                if not exc.retryable:
                    raise
                await self._wait(exc, retry.failed(random.random()))
                attempt += 1
                continue
            self._sent(len(batch))
            return

    async def _wait(self, exc: PodshipError, delay: float) -> None:
        if self._failures.due(time.monotonic()):
            count = self._failures.count
            again = f" (attempt {count})" if count > 1 else ""
            log.warning("output %s: %s%s; retrying in %.1fs", self.label, exc, again, delay)
        await asyncio.sleep(delay)

    def _sent(self, records: int) -> None:
        self.counts["sent"] += records
        retries = self._failures.reset()
        if retries:
            log.info("output %s delivers again, after %d failed attempts", self.label, retries)


def _reason(exc: BaseException) -> str:
    return f"cannot encode the record: {type(exc).__name__}: {str(exc)[:200]}"
