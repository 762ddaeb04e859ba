"""One connector's protocol core, like the websockets and h11 cores: no I/O, clocks passed in.

Frames go in (`receive`) and come out as events, dead letters or nothing; session outcomes go in
(`opened_*`, `ended`, `refused`) and `plan` says what to do next: open live, open an archive
window, or wait (for the server to release our last session, or to back off). Two clocks are
passed in: `now`, the server's time in epoch milliseconds (what event times and archive windows
are compared with), and `mono`, monotonic seconds (what waits are measured in).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podship.core.coverage import Archive, Coverage, Live
from podship.core.event.envelope import Event
from podship.core.pod import HOUR_MS, Frame, decode_frame, event_identity, iso_utc
from podship.core.records import arrived
from podship.core.retry import Backoff
from podship.core.units import counted
from podship.errors import HandshakeError, PodshipError

RELEASE_STEP_MAX = 0.5  # seconds between two tries while the server releases our last session
WARN_AFTER = 3  # failures in a row after which a reconnect is a warning: `log_level: warning` shows it
BARREN_WARN = 3  # sessions in a row that brought no new event before podship says what it sees
SUMMARY_SECS = 600.0  # while that goes on, one line every ten minutes instead of one per session
ONCE_QUIET_SECS = 5.0  # `run --once`: a live session this long without a frame has sent what there is
ONCE_PRESENT_MS = 60_000  # `run --once`: an event this close to when live opened is the present
Note = tuple[int, str]  # a log level and a line, for the shell to log


class Ended(enum.Enum):
    COMPLETE = "complete"  # the server closed normally (an archive window is done)
    CLOSED = "closed"  # we closed it cleanly (repair due, stop)
    IDLE = "idle"  # we closed an early archive window that went quiet
    DROPPED = "dropped"  # the connection was lost


@dataclass(frozen=True, slots=True)
class Wait:
    """Try nothing for `seconds`, then plan again."""

    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class Received:
    """What one frame became: an event to emit, a dead letter (`reason`), or nothing."""

    event: Event | None = None
    event_id: str = ""
    ts: int = 0
    reason: str = ""


NOTHING = Received()


@dataclass
class Stats:
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    empty_frames: int = 0
    reconnects: int = 0
    archive_windows: int = 0
    archive_hours: int = 0
    refusals: int = 0
    release_waits: int = 0
    delivered: int = 0
    newest_event_ms: int = 0
    last_activity: float = 0.0  # wall-clock time of the last frame received
    mode: str = "idle"
    last_error: str = ""
    awaiting: str = ""  # the next archive window due, when one is awaited


@dataclass
class Settings:
    reconnect_min: float = 2.0
    reconnect_max: float = 60.0
    release_wait: float = 30.0
    max_frame_bytes: int = 16 << 20


@dataclass
class Session:
    window: Archive | None  # None: live
    opened_at: int
    frames: int = 0
    newest: int = 0  # the newest event time this session carried
    new: int = 0  # events it brought that were not seen before: progress is these, not frames
    last_id: str = ""  # the id of the last event it carried, new or not: where the server cut it


@dataclass
class Connector:
    """The state machine of one (key, type) stream."""

    kind: str
    context: dict[str, Any]
    settings: Settings
    random: Callable[[], float]
    mono: float  # when the process started: a 409 now may be our previous process's session
    coverage: Coverage | None = None
    stats: Stats = field(default_factory=Stats)
    session: Session | None = None

    def __post_init__(self) -> None:
        self.retry = Backoff(self.settings.reconnect_min, self.settings.reconnect_max)
        self.released_at, self.release_steps = self.mono, 0
        self.wait_until, self.wait_reason = self.mono, ""
        self.conflict_reported = False
        self.reached_present = False  # a live session caught up (for `run --once`)
        self.barren, self.barren_cut, self.barren_said = 0, "", 0.0  # sessions in a row with nothing new

    # --- planning -----------------------------------------------------------------------------

    def plan(self, now: int, mono: float) -> Archive | Live | Wait:
        if mono < self.wait_until:
            return Wait(self.wait_until - mono, self.wait_reason)
        if self.coverage is None:  # nothing is planned before a handshake told us the server's clock
            return Live(None)
        action = self.coverage.next_action(now)
        self.stats.awaiting = self.awaiting(now)
        return action

    def live_caught_up(self, silent_secs: float) -> bool:
        """`run --once`: the live session has reached the present: it carried an event from within
        `ONCE_PRESENT_MS` of when it opened, or it has been silent for `ONCE_QUIET_SECS`."""
        session = self.session
        if session is None or session.window is not None:
            return False
        return silent_secs >= ONCE_QUIET_SECS or session.newest >= session.opened_at - ONCE_PRESENT_MS

    def done_once(self, action: Archive | Live | Wait) -> bool:
        """`run --once` is done: live has caught up and no archive window can be fetched now (what
        the archive does not hold yet stays a hole in the checkpoint, for the next run)."""
        return self.reached_present and isinstance(action, Live)

    def awaiting(self, now: int) -> str:
        assert self.coverage is not None
        due = self.coverage.next_due(now)
        if due is None or due <= now:
            return ""
        hours = counted(self.coverage.hours_to_repair(now), "archive hour")
        return f"{hours}, the next due at {iso_utc(due)}"

    # --- sessions -----------------------------------------------------------------------------

    def opened_live(self, coverage: Coverage, now: int) -> int | None:
        """Live is open; returns when to close it (server time) for a repair, None: never."""
        self.coverage = coverage
        self.session = Session(None, now)
        coverage.live_opened(now)
        self.stats.mode = "live"
        action = coverage.next_action(now)
        return now if isinstance(action, Archive) else action.until

    def opened_archive(self, window: Archive, now: int) -> None:
        assert self.coverage is not None, "archive windows are planned only once the clock is known"
        self.session = Session(window, now)
        self.coverage.session_mark = None
        self.stats.mode = "backfill"

    def early(self, window: Archive) -> bool:
        """True when the window reaches into hours the archive may not hold completely yet."""
        assert self.coverage is not None and self.session is not None
        return window.to > self.session.opened_at - self.coverage.timing.archive_delay_ms

    def ended(self, how: Ended, now: int, mono: float, problem: str = "") -> list[Note]:
        """The session ended; the next plan may open the next one at once."""
        session, coverage = self.session, self.coverage
        assert session is not None and coverage is not None
        self.session, self.released_at, self.release_steps = None, mono, 0
        if session.window is None:
            coverage.live_closed(now, clean=how is not Ended.DROPPED)
            self.reached_present = self.reached_present or how is Ended.IDLE
        else:
            self._archive_ended(session, how)
        if not self._fruitful(session, how, now):
            note = self._failed(problem or "the server ended the session", at_once=False, mono=mono)
            return self._barren(session.last_id, note, mono)
        notes = self._fruit(session)
        if how is Ended.DROPPED:
            notes.append(self._failed(problem, at_once=True, mono=mono))
        return notes

    def _fruitful(self, session: Session, how: Ended, now: int) -> bool:
        """Progress: new events, a session we ended, a whole archive window, or one that lasted
        long enough that reconnecting at once cannot hammer the server. Frames that were all
        duplicates are not: a server that cuts every session at the same point gets backoff."""
        ours = how in (Ended.CLOSED, Ended.IDLE)
        whole = session.window is not None and how is Ended.COMPLETE
        lasted = now - session.opened_at >= self.settings.reconnect_max * 1000
        return ours or whole or lasted or session.new > 0

    def _fruit(self, session: Session) -> list[Note]:
        self.retry.progressed()
        self.conflict_reported = False
        barren, self.barren = self.barren, 0
        if barren < BARREN_WARN or not session.new:
            return []
        return [(logging.INFO, f"new events again, after {barren} sessions in a row that brought none")]

    def _barren(self, cut: str, note: Note, mono: float) -> list[Note]:
        """A session with nothing new: said as a failure at first, then once as what podship sees,
        then summarised every `SUMMARY_SECS`; the lines between go to debug."""
        self.barren += 1
        self.barren_cut = cut if self.barren == 1 or cut == self.barren_cut else ""
        if self.barren < BARREN_WARN:
            return [note]
        if self.barren == BARREN_WARN:
            self.barren_said = mono
            return [(logging.WARNING, f"{self._seen_cut()}; {note[1]}")]
        if mono - self.barren_said >= SUMMARY_SECS:
            self.barren_said = mono
            return [(logging.INFO, f"still: {self.barren} sessions in a row brought nothing new; {note[1]}")]
        return [(logging.DEBUG, note[1])]

    def _seen_cut(self) -> str:
        what = (
            f"the server closes every session after the same event ({self.barren_cut})"
            if self.barren_cut
            else "the server ends every session before any new event"
        )
        return (
            f"{what}: {self.barren} sessions in a row brought nothing new; podship backs off (up to "
            f"{self.settings.reconnect_max:g}s) instead of reconnecting at once, and says this again "
            f"every {SUMMARY_SECS / 60:g} minutes while it lasts"
        )

    @property
    def quiet(self) -> bool:
        """Sessions go on bringing nothing new and podship has said so: their lines go to debug."""
        return self.barren >= BARREN_WARN

    def _archive_ended(self, session: Session, how: Ended) -> None:
        assert self.coverage is not None and session.window is not None
        mark, reorder = self.coverage.session_mark, self.coverage.timing.reorder_ms
        reached = (
            None if how is Ended.COMPLETE else (session.window.since if mark is None else mark - reorder)
        )
        self.coverage.archive_fetched(session.window, session.opened_at, reached)
        if how is Ended.IDLE:  # the archive has nothing more for now: no early fetch again
            for hour in range(session.window.since, session.window.to, HOUR_MS):
                self.coverage.fetched[hour] = session.opened_at
        if how is Ended.COMPLETE:
            self.stats.archive_windows += 1
            self.stats.archive_hours += (session.window.to - session.window.since) // HOUR_MS
        self.coverage.session_mark = None

    def refused(self, error: PodshipError, mono: float) -> Note:
        """Opening failed (retryable): a 409 soon after our own session ended is its release."""
        if isinstance(error, HandshakeError) and error.status == 409:
            if mono - self.released_at <= self.settings.release_wait:
                return self._release_step(mono)
            self.stats.refusals += 1
            return self._conflict(error, mono)
        if isinstance(error, HandshakeError):
            self.stats.refusals += 1
        return self._failed(str(error), at_once=False, mono=mono)

    def _release_step(self, mono: float) -> Note:
        step = RELEASE_STEP_MAX if self.release_steps else RELEASE_STEP_MAX / 2
        self.release_steps += 1
        self.stats.release_waits += 1
        self._wait(mono, step, "the server releasing our last session")
        return logging.DEBUG, f"409: the server has not released our last session yet; again in {step:.2f}s"

    def _conflict(self, error: HandshakeError, mono: float) -> Note:
        note = self._failed(str(error), at_once=False, mono=mono)
        if self.conflict_reported:
            return logging.DEBUG, note[1]
        self.conflict_reported = True
        return logging.WARNING, (
            f"409 for more than {self.settings.release_wait:g}s after our own session ended: another "
            f"connector or collector holds this API key for type {self.kind}; give each its own key. "
            + note[1]
        )

    def _failed(self, problem: str, *, at_once: bool, mono: float) -> Note:
        """A failure: after a session that delivered frames, reconnect at once; else back off."""
        delay = 0.0 if at_once else self.retry.failed(self.random())
        self.stats.reconnects += 1
        self.stats.last_error = problem
        self._wait(mono, delay, "backoff")
        streak = self.retry.failures
        if streak >= WARN_AFTER:
            return logging.WARNING, f"{problem} ({streak} failures in a row); reconnecting in {delay:.1f}s"
        return logging.INFO, f"{problem}; reconnecting in {delay:.1f}s"

    def _wait(self, mono: float, seconds: float, reason: str) -> None:
        self.wait_until, self.wait_reason = mono + seconds, reason

    # --- frames -------------------------------------------------------------------------------

    def receive(self, data: bytes) -> Received:
        """One WebSocket message: taken before its id is admitted, so nothing is undone."""
        coverage = self.coverage
        assert coverage is not None and self.session is not None, "frames arrive only in a session"
        self.session.frames += 1
        frame = decode_frame(data, self.settings.max_frame_bytes)
        if frame.event is None:
            self.stats.empty_frames += not frame.reason
            return self._dead(frame.reason) if frame.reason else NOTHING
        try:
            event_id, ts = event_identity(frame.event, self.kind)
        except ValueError as exc:
            return self._dead(str(exc))
        coverage.saw(ts)
        self.session.newest, self.session.last_id = max(self.session.newest, ts), event_id
        if not coverage.is_new(event_id, ts):
            self.stats.duplicates += 1
            return NOTHING
        return self._admit(frame, event_id, ts)

    def _admit(self, frame: Frame, event_id: str, ts: int) -> Received:
        assert self.coverage is not None and frame.event is not None
        try:
            event = arrived(frame.event, self.kind, event_id, ts, self.context, text=frame.text)
        except Exception as exc:  # data must never stop the stream: set the event aside instead
            return self._dead(f"cannot take the event: {type(exc).__name__}: {exc}")
        self.coverage.admit(event_id, ts)
        assert self.session is not None
        self.session.new += 1
        self.stats.events += 1
        self.stats.newest_event_ms = max(self.stats.newest_event_ms, ts)
        return Received(event, event_id, ts)

    def _dead(self, reason: str) -> Received:
        self.stats.dead_letters += 1
        return Received(reason=reason)

    def acknowledged(self, pairs: list[tuple[str, int]]) -> None:
        assert self.coverage is not None, "events are acknowledged only after they were admitted"
        self.coverage.acknowledge(pairs)
        self.stats.delivered += len(pairs)
