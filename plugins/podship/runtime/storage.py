"""When state cannot be written (a full disk, a quota, an I/O error, a read-only filesystem).

podship then holds, as it does for a stalled output: whoever was writing (the outputs' worker after
a batch, an input setting a frame aside) waits here and tries again with backoff, so no batch is
taken, the queue fills, and the inputs stop reading. It says so once as an ERROR naming the file
and the error (again at most once a minute while it lasts), shows it in `/status` and `/metrics`,
and resumes by itself once the write succeeds. Nothing is dropped meanwhile: the store keeps what
it could not write, and the checkpoint is not moved past it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from podship.core.retry import Backoff
from podship.errors import StorageError

REPEAT_SECS = 60.0  # a fault that lasts is said again at most this often
RETRY_MIN_SECS, RETRY_MAX_SECS = 0.5, 10.0  # a disk that has room again is used within seconds
log = logging.getLogger("podship.storage")


@dataclass
class Blocked:
    """One writer that cannot write: its last error, and since when (wall clock)."""

    error: StorageError
    since: float
    said: bool  # whether this episode was said: its end is said only then


@dataclass
class StorageWatch:
    """The writers (connector names) whose state writes fail; shared by a pipeline's parts."""

    blocked: dict[str, Blocked] = field(default_factory=dict)
    said: dict[str, tuple[float, int | None]] = field(default_factory=dict)  # writer: (when, errno)

    def failed(self, writer: str, error: StorageError, mono: float) -> bool:
        """Note a failure; True when it is to be said: another errno than last said, or a minute
        since (a disk that flaps between full and not is said once a minute, not per flap)."""
        when, code = self.said.get(writer, (-REPEAT_SECS, None))
        say = code != error.errno or mono - when >= REPEAT_SECS
        if say:
            self.said[writer] = (mono, error.errno)
        known = self.blocked.setdefault(writer, Blocked(error, time.time(), say))
        known.error, known.said = error, known.said or say
        return say

    def cleared(self, writer: str) -> float | None:
        """The write succeeded: how long it was blocked (seconds), when that episode was said."""
        known = self.blocked.pop(writer, None)
        return None if known is None or not known.said else time.time() - known.since


async def until_written(write: Callable[[], None], watch: StorageWatch, writer: str) -> None:
    """Call `write` until it does not raise StorageError. It never gives up by itself: a stop
    cancels it at the end of the grace period, and what was not written is fetched again."""
    retry = Backoff(RETRY_MIN_SECS, RETRY_MAX_SECS)
    while not attempt(write, watch, writer):
        await asyncio.sleep(retry.failed(random.random()))


def attempt(write: Callable[[], None], watch: StorageWatch, writer: str) -> bool:
    """One try of `write`: False (said as the watch allows) when the disk refused it."""
    try:
        write()
    except StorageError as exc:
        refused(watch, writer, exc)
        return False
    lasted = watch.cleared(writer)
    if lasted is not None:
        log.warning(
            "state written again after %.0fs blocked; reading resumes", lasted, extra={"connector": writer}
        )
    return True


def refused(watch: StorageWatch, writer: str, error: StorageError) -> None:
    """A write of `writer`'s state failed: noted, and said as the watch allows."""
    if watch.failed(writer, error, time.monotonic()):
        log.error(
            "%s; reading is held until state can be written, retrying", error, extra={"connector": writer}
        )
