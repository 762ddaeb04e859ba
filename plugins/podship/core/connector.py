"""One connector's protocol core, like the websockets and h11 cores: no I/O, clocks passed in.

Frames go in (`receive`) and come out as events, dead letters or nothing; session outcomes go in
(`opened_*`, `ended`, `refused`) and `plan` says what to do next: open live, open an archive
window, or wait (for the server to release our last session, or to back off). Two clocks are
passed in: `now`, the server's time in epoch milliseconds (what event times and archive windows
are compared with), and `mono`, monotonic seconds (what waits are measured in).
Its call order is a state, checked on each call and reported in `/status` (`connector_state.py`);
what it has to say comes out as typed notes that the shell words (`connector_notes.py`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from podship.core import connector_notes as notes
from podship.core.connector_state import Call, State, after
from podship.core.coverage import Archive, Coverage, Live
from podship.core.event.envelope import Event
from podship.core.pod import HOUR_MS, decode_frame, event_identity, iso_utc
from podship.core.records import arrived
from podship.core.retry import Backoff
from podship.core.units import counted
from podship.errors import CallOrderError, HandshakeError, PodshipError

RELEASE_STEP_MAX = 0.5  # seconds between two tries while the server releases our last session
BARREN_WARN = 3  # sessions in a row that brought no new event before podship says what it sees
SUMMARY_SECS = 600.0  # while that goes on, one line every ten minutes instead of one per session
ONCE_QUIET_SECS = 5.0  # `run --once`: a live session this long without a frame has sent what there is
ONCE_PRESENT_MS = 60_000  # `run --once`: an event this close to when live opened is the present


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
    state: State = State.STARTING  # moved by `Connector._step` only (the relay input sets its own)


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

    # --- state --------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.stats.state

    def _step(self, call: Call) -> None:
        """The one place the state moves: `call` checked against the table, its transition taken."""
        self.stats.state = after(self.stats.state, call)

    def _coverage(self, call: str) -> Coverage:
        """The coverage: known once the first live session's handshake gave the server's clock."""
        if self.coverage is None:
            raise CallOrderError(f"{call}() before the first live session: the server's clock is unknown")
        return self.coverage

    def _open(self, call: Call) -> tuple[Session, Coverage]:
        """`call`'s transition, legal only while a session is open; that session and the coverage."""
        self._step(call)
        if self.session is None:  # the live and archive states always hold one
            raise CallOrderError(f"{call}() in state {self.state.value} without a session")
        return self.session, self._coverage(call)

    def close(self) -> None:
        """The shell is done with this connector: stopped, caught up (`--once`), or failed for good."""
        self._step("close")

    # --- planning -----------------------------------------------------------------------------

    def plan(self, now: int, mono: float) -> Archive | Live | Wait:
        self._step("plan")
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
        coverage = self._coverage("awaiting")
        due = coverage.next_due(now)
        if due is None or due <= now:
            return ""
        hours = counted(coverage.hours_to_repair(now), "archive hour")
        return f"{hours}, the next due at {iso_utc(due)}"

    # --- sessions -----------------------------------------------------------------------------

    def opened_live(self, coverage: Coverage, now: int) -> int | None:
        """Live is open; returns when to close it (server time) for a repair, None: never."""
        self._step("opened_live")
        self.coverage = coverage
        self.session = Session(None, now)
        coverage.live_opened(now)
        self.stats.mode = "live"
        action = coverage.next_action(now)
        return now if isinstance(action, Archive) else action.until

    def opened_archive(self, window: Archive, now: int) -> None:
        self._step("opened_archive")  # only from waiting: archive windows need the server's clock
        self._coverage("opened_archive").session_mark = None
        self.session = Session(window, now)
        self.stats.mode = "backfill"

    def early(self, window: Archive) -> bool:
        """True when the window reaches into hours the archive may not hold completely yet."""
        session, coverage = self._open("early")
        return window.to > session.opened_at - coverage.timing.archive_delay_ms

    def ended(self, how: Ended, now: int, mono: float, problem: str = "") -> list[notes.Note]:
        """The session ended; the next plan may open the next one at once."""
        session, coverage = self._open("ended")
        self.session, self.released_at, self.release_steps = None, mono, 0
        if session.window is None:
            coverage.live_closed(now, clean=how is not Ended.DROPPED)
            self.reached_present = self.reached_present or how is Ended.IDLE
        else:
            self._archive_ended(coverage, session.window, session.opened_at, how)
        if not self._fruitful(session, how, now):
            note = self._failed(problem or "the server ended the session", at_once=False, mono=mono)
            return self._barren(session.last_id, note, mono)
        said = self._fruit(session)
        if how is Ended.DROPPED:
            said.append(self._failed(problem, at_once=True, mono=mono))
        return said

    def _fruitful(self, session: Session, how: Ended, now: int) -> bool:
        """Progress: new events, a session we ended, a whole archive window, or one that lasted
        long enough that reconnecting at once cannot hammer the server. Frames that were all
        duplicates are not: a server that cuts every session at the same point gets backoff."""
        ours = how in (Ended.CLOSED, Ended.IDLE)
        whole = session.window is not None and how is Ended.COMPLETE
        lasted = now - session.opened_at >= self.settings.reconnect_max * 1000
        return ours or whole or lasted or session.new > 0

    def _fruit(self, session: Session) -> list[notes.Note]:
        self.retry.progressed()
        self.conflict_reported = False
        barren, self.barren = self.barren, 0
        if barren < BARREN_WARN or not session.new:
            return []
        return [notes.NewEventsAgain(barren)]

    def _barren(self, cut: str, note: notes.Reconnecting, mono: float) -> list[notes.Note]:
        """A session with nothing new: said as a failure at first, then once as what podship sees,
        then summarised every `SUMMARY_SECS`; the lines between go to debug."""
        self.barren += 1
        self.barren_cut = cut if self.barren == 1 or cut == self.barren_cut else ""
        if self.barren < BARREN_WARN:
            return [note]
        if self.barren == BARREN_WARN:
            self.barren_said = mono
            backoff_max = self.settings.reconnect_max
            return [notes.Barren(self.barren, self.barren_cut, backoff_max, SUMMARY_SECS, note)]
        if mono - self.barren_said >= SUMMARY_SECS:
            self.barren_said = mono
            return [notes.StillBarren(self.barren, note)]
        return [replace(note, level=logging.DEBUG)]

    @property
    def quiet(self) -> bool:
        """Sessions go on bringing nothing new and podship has said so: their lines go to debug."""
        return self.barren >= BARREN_WARN

    def _archive_ended(self, coverage: Coverage, window: Archive, opened_at: int, how: Ended) -> None:
        mark, reorder = coverage.session_mark, coverage.timing.reorder_ms
        reached = None if how is Ended.COMPLETE else (window.since if mark is None else mark - reorder)
        coverage.archive_fetched(window, opened_at, reached)
        if how is Ended.IDLE:  # the archive has nothing more for now: no early fetch again
            for hour in range(window.since, window.to, HOUR_MS):
                coverage.fetched[hour] = opened_at
        if how is Ended.COMPLETE:
            self.stats.archive_windows += 1
            self.stats.archive_hours += (window.to - window.since) // HOUR_MS
        coverage.session_mark = None

    def refused(self, error: PodshipError, mono: float) -> notes.Note:
        """Opening failed (retryable): a 409 soon after our own session ended is its release."""
        self._step("refused")
        if isinstance(error, HandshakeError) and error.status == 409:
            if mono - self.released_at <= self.settings.release_wait:
                return self._release_step(mono)
            self.stats.refusals += 1
            return self._conflict(error, mono)
        if isinstance(error, HandshakeError):
            self.stats.refusals += 1
        return self._failed(str(error), at_once=False, mono=mono)

    def _release_step(self, mono: float) -> notes.Note:
        step = RELEASE_STEP_MAX if self.release_steps else RELEASE_STEP_MAX / 2
        self.release_steps += 1
        self.stats.release_waits += 1
        self._wait(mono, step, "the server releasing our last session")
        return notes.ReleaseWait(step)

    def _conflict(self, error: HandshakeError, mono: float) -> notes.Note:
        note = self._failed(str(error), at_once=False, mono=mono)
        if self.conflict_reported:
            return replace(note, level=logging.DEBUG)
        self.conflict_reported = True
        return notes.Conflict(self.settings.release_wait, self.kind, note)

    def _failed(self, problem: str, *, at_once: bool, mono: float) -> notes.Reconnecting:
        """A failure: after a session that delivered frames, reconnect at once; else back off."""
        delay = 0.0 if at_once else self.retry.failed(self.random())
        self.stats.reconnects += 1
        self.stats.last_error = problem
        self._wait(mono, delay, "backoff")
        note = notes.Reconnecting(problem, self.retry.failures, delay)
        return replace(note, level=logging.WARNING) if note.counted else note

    def _wait(self, mono: float, seconds: float, reason: str) -> None:
        self.wait_until, self.wait_reason = mono + seconds, reason

    # --- frames -------------------------------------------------------------------------------

    def receive(self, data: bytes) -> Received:
        """One WebSocket message: taken before its id is admitted, so nothing is undone."""
        session, coverage = self._open("receive")  # frames arrive only in a session
        session.frames += 1
        frame = decode_frame(data, self.settings.max_frame_bytes)
        if frame.head is None:
            self.stats.empty_frames += not frame.reason
            return self._dead(frame.reason) if frame.reason else NOTHING
        try:
            event_id, ts = event_identity(frame.head, self.kind)
        except ValueError as exc:
            return self._dead(str(exc))
        coverage.saw(ts)
        session.newest, session.last_id = max(session.newest, ts), event_id
        if not coverage.is_new(event_id, ts):
            self.stats.duplicates += 1
            return NOTHING
        try:
            event = arrived(frame.event, self.kind, event_id, ts, self.context, text=frame.text)
        except Exception as exc:  # data must never stop the stream: set the event aside instead
            return self._dead(f"cannot take the event: {type(exc).__name__}: {exc}")
        return self._admit(event, session, coverage)

    def _admit(self, event: Event, session: Session, coverage: Coverage) -> Received:
        event_id, ts = event.event_id, event.ts
        coverage.admit(event_id, ts)
        session.new += 1
        self.stats.events += 1
        self.stats.newest_event_ms = max(self.stats.newest_event_ms, ts)
        return Received(event, event_id, ts)

    def _dead(self, reason: str) -> Received:
        self.stats.dead_letters += 1
        return Received(reason=reason)

    def acknowledged(self, pairs: list[tuple[str, int]]) -> None:
        self._coverage("acknowledged").acknowledge(pairs)  # events are admitted only once it is known
        self.stats.delivered += len(pairs)
