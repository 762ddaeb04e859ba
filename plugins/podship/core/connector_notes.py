"""What the connector core has to say, as small typed notes: the core decides what happened and how
loud it is (`level`, a `logging` level); the shell words it (`inputs/proofpoint_words.py`). So the
core returns events and never log text, as websockets' and h11's cores do, and a test reads the
streak or the delay from a field instead of parsing them out of a sentence."""

from __future__ import annotations

import logging
from dataclasses import dataclass

WARN_AFTER = 3  # failures in a row after which a reconnect is a warning: `log_level: warning` shows it


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """A session failed or could not open; the next try is in `delay` seconds."""

    problem: str
    streak: int  # failures in a row so far (0 after a session that was progress)
    delay: float
    level: int = logging.INFO

    @property
    def counted(self) -> bool:
        """The streak is long enough to be said (and warned about)."""
        return self.streak >= WARN_AFTER


@dataclass(frozen=True, slots=True)
class ReleaseWait:
    """A 409 right after our own session ended: the server is still releasing it; again in `step`."""

    step: float
    level: int = logging.DEBUG


@dataclass(frozen=True, slots=True)
class Conflict:
    """A 409 that outlasted `release_wait` seconds: another collector holds the key for `kind`."""

    release_wait: float
    kind: str
    then: Reconnecting
    level: int = logging.WARNING


@dataclass(frozen=True, slots=True)
class NewEventsAgain:
    """A session brought new events, after `barren` sessions in a row that brought none."""

    barren: int
    level: int = logging.INFO


@dataclass(frozen=True, slots=True)
class Barren:
    """`sessions` in a row brought nothing new: the server cuts each after the event `cut` (or, when
    it is "", before any new event). Said once; podship backs off up to `backoff_max` seconds."""

    sessions: int
    cut: str
    backoff_max: float
    every_secs: float  # while it lasts, a `StillBarren` this often
    then: Reconnecting
    level: int = logging.WARNING


@dataclass(frozen=True, slots=True)
class StillBarren:
    """The summary of barren sessions that go on: `sessions` in a row so far."""

    sessions: int
    then: Reconnecting
    level: int = logging.INFO


Note = Reconnecting | ReleaseWait | Conflict | NewEventsAgain | Barren | StillBarren
