"""What a connector has delivered, what it may have missed, and what to fetch next.

The PoD server keeps a live resume point for an hour after a drop, and an hour-granular archive
that lags behind the present. Neither alone loses nothing: a TCP reset or a crash loses the frames in
flight, and a gap longer than an hour loses the rest. So every time span in which frames may have been
lost becomes a *hole*; a hole is repaired by fetching each hour it touches from the archive once that
hour is complete there (its end plus `archive_delay`). Duplicates that the overlap brings are removed by
event id. Everything here is pure: times are epoch milliseconds passed in by the caller, and "now" is
the server's clock as estimated by the shell.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from podship.core.pod import HOUR_MS, floor_hour
from podship.core.seen import Seen

ARCHIVE_LIMIT_MS = 30 * 24 * HOUR_MS  # the API answers 400 for ranges older than 30 days
SNAPSHOT_VERSION = 1


@dataclass(slots=True)
class Hole:
    """A span of event time that may have lost events; `end` None means open until the next live start."""

    start: int
    end: int | None = None

    def hours(self, limit: int) -> Iterator[int]:
        """The hour starts this hole touches, up to (not including) `limit`."""
        stop = limit if self.end is None else min(self.end, limit)
        hour = floor_hour(self.start)
        while hour < stop:
            yield hour
            hour += HOUR_MS


@dataclass(frozen=True, slots=True)
class Archive:
    """Fetch the hour-aligned window `[since, to)` from the archive, then plan again."""

    since: int
    to: int


@dataclass(frozen=True, slots=True)
class Live:
    """Stream live; close cleanly and plan again at `until` (server time), if set."""

    until: int | None


@dataclass(frozen=True, slots=True)
class Timing:
    """The knobs of the coverage logic, in milliseconds."""

    reorder_ms: int = 300_000  # how far out of order event times may arrive
    archive_delay_ms: int = HOUR_MS  # the archive holds every event older than this
    resume_ms: int = 50 * 60_000  # a live reconnect within this resumes where it left off
    lag_ms: int = 30 * 60_000  # the archive starts to hold events about this old


WINDOW_HOURS = 24  # one archive session fetches at most a day: a drop costs a re-fetch from its hour


@dataclass
class Coverage:
    """Holes, watermark and deduplication state of one connector."""

    timing: Timing
    watermark: int
    holes: list[Hole] = field(default_factory=list)
    seen: Seen = field(default_factory=Seen)
    pending: dict[str, int] = field(default_factory=dict)
    newest_acked: int = 0
    live_closed_at: int | None = None
    session_mark: int | None = None
    unrecoverable_ms: int = 0
    fetched: dict[int, int] = field(default_factory=dict)  # hour -> server time of an early fetch

    @classmethod
    def fresh(cls, timing: Timing, now: int, backfill_ms: int) -> Coverage:
        """A first start: everything since `now - backfill` is a hole, open until live starts."""
        start = now - backfill_ms
        return cls(timing, watermark=start, holes=[Hole(start)])

    # --- events -----------------------------------------------------------------------------

    def is_new(self, event_id: str, ts: int) -> bool:
        return event_id not in self.pending and not self.seen.remembers(event_id, ts)

    def admit(self, event_id: str, ts: int) -> bool:
        """True for an event not seen before; it is then pending until acknowledged."""
        if not self.is_new(event_id, ts):
            return False
        self.pending[event_id] = ts
        return True

    def acknowledge(self, acked: Iterable[tuple[str, int]]) -> None:
        """Every output has these events: remember their ids and move the watermark (never back)."""
        for event_id, ts in acked:
            self.pending.pop(event_id, None)
            self.seen.add(event_id, ts)
            self.newest_acked = max(self.newest_acked, ts)
        floor = min(self.pending.values(), default=self.newest_acked)
        self.watermark = max(self.watermark, min(floor, self.newest_acked))

    # --- the live session ---------------------------------------------------------------------

    def live_opened(self, now: int) -> None:
        """A live session started at server time `now`: open holes end here."""
        reorder = self.timing.reorder_ms
        if self.live_closed_at is not None and now - self.live_closed_at > self.timing.resume_ms:
            self.holes.append(Hole(self.live_closed_at - reorder))
        for hole in self.holes:
            if hole.end is None:
                # A clock stepped back must not invert the hole: it then spans the reorder window.
                hole.end = max(now, hole.start) + reorder
        self.live_closed_at = None
        self.session_mark = now
        self._tidy()

    def saw(self, ts: int) -> None:
        """A frame of the current session carried this event time (new or a duplicate)."""
        if self.session_mark is None or ts > self.session_mark:
            self.session_mark = ts

    def live_closed(self, now: int, *, clean: bool) -> None:
        """The live session ended; a clean close keeps the server's resume point exact."""
        if clean:
            self.live_closed_at = now
        else:
            start = now if self.session_mark is None else self.session_mark
            self.holes.append(Hole(start - self.timing.reorder_ms))
            self._tidy()
        self.session_mark = None

    # --- planning -----------------------------------------------------------------------------

    def next_action(self, now: int) -> Archive | Live:
        """An archive window of the hours due now (early ones first), else live until one is due.

        An hour is due once the archive can hold part of its hole (`lag` after the hole's start:
        fetched early, once) and again once it holds all of it (`archive_delay` after the hole's
        end in that hour). Early fetches put the seam after a start or an outage out in seconds;
        the final fetch proves the hour whole.
        """
        self._expire(now)
        due = self._due(now)
        ready = {hour: final for hour, (at, final) in due.items() if at <= now}
        if ready:
            return self._window(ready)
        return Live(min((at for at, _ in due.values()), default=None))

    def _due(self, now: int) -> dict[int, tuple[int, bool]]:
        """Per hour a hole touches: when it is due next, and whether that fetch is the final one."""
        spans: dict[int, tuple[int, int]] = {}
        for hole in self.holes:
            end = now if hole.end is None else hole.end
            for hour in hole.hours(end):
                low, high = max(hole.start, hour), min(end, hour + HOUR_MS)
                old = spans.get(hour, (low, high))
                spans[hour] = (min(old[0], low), max(old[1], high))
        self.fetched = {hour: at for hour, at in self.fetched.items() if hour in spans}
        return {hour: self._when(hour, low, high, now) for hour, (low, high) in spans.items()}

    def _when(self, hour: int, low: int, high: int, now: int) -> tuple[int, bool]:
        final = high + self.timing.archive_delay_ms
        early = low + self.timing.lag_ms
        if hour in self.fetched or early >= final or final <= now:
            return final, True
        return early, False

    def _window(self, ready: dict[int, bool]) -> Archive:
        """Consecutive ready hours of one kind, early ones first, at most `WINDOW_HOURS`."""
        early = sorted(hour for hour, final in ready.items() if not final)
        group = early or sorted(ready)
        since = to = group[0]
        while to in ready and ready[to] == ready[since] and to - since < WINDOW_HOURS * HOUR_MS:
            to += HOUR_MS
        return Archive(since, to)

    def hours_to_repair(self, now: int) -> int:
        """How many archive hours the holes still need, counting those not complete yet."""
        return len(self._due(now))

    def hours_ready(self, now: int) -> int:
        """How many of those hours can be fetched now (the others wait for the archive)."""
        return sum(at <= now for at, _ in self._due(now).values())

    def hours_overdue(self, now: int) -> int:
        """Hours the holes need that the archive already holds whole (`archive_delay` after the hole's
        end in them): a repair fetches them at once, so a count that stays up says repairs fail."""
        return sum(1 for at, final in self._due(now).values() if final and at <= now)

    def next_due(self, now: int) -> int | None:
        """When the next archive window is due (server time); None when nothing is awaited."""
        return min((at for at, _ in self._due(now).values()), default=None)

    def archive_fetched(self, window: Archive, opened_at: int, reached: int | None = None) -> None:
        """The archive sent `window` (up to `reached` when the session broke off) to a session
        opened at `opened_at`: what it held completely then is repaired; early hours are noted."""
        end = window.to if reached is None else min(window.to, reached)
        whole = min(end, opened_at - self.timing.archive_delay_ms)
        if whole > window.since:
            self.holes = [piece for hole in self.holes for piece in _subtract(hole, window.since, whole)]
        for hour in range(window.since, end - HOUR_MS + 1, HOUR_MS):
            self.fetched[hour] = opened_at

    def _expire(self, now: int) -> None:
        """Hours older than the archive keeps cannot be fetched; count them instead of looping."""
        oldest = floor_hour(now - ARCHIVE_LIMIT_MS) + HOUR_MS
        for hole in list(self.holes):
            if hole.start < oldest:
                end = oldest if hole.end is None else min(hole.end, oldest)
                self.unrecoverable_ms += max(0, end - hole.start)
                self.holes.remove(hole)
                self.holes.extend(_subtract(hole, hole.start, oldest))
        self._tidy()

    def _tidy(self) -> None:
        """Holes sorted and merged where they overlap or touch, so none ever overlap."""
        merged: list[Hole] = []
        for hole in sorted(self.holes, key=lambda hole: hole.start):
            last = merged[-1] if merged else None
            if last is not None and (last.end is None or hole.start <= last.end):
                last.end = None if last.end is None or hole.end is None else max(last.end, hole.end)
            elif _sound(hole):
                merged.append(Hole(hole.start, hole.end))
        self.holes = merged

    def problems(self) -> list[str]:
        """Broken invariants (an empty list when sound): what a checkpoint must never persist."""
        found = [f"hole {h.start}..{h.end} is empty or inverted" for h in self.holes if not _sound(h)]
        for left, right in zip(self.holes, self.holes[1:], strict=False):
            if left.end is None or right.start < left.end:
                found.append(f"holes {left.start}..{left.end} and {right.start}..{right.end} overlap")
        return found

    # --- persistence --------------------------------------------------------------------------

    def safe_point(self) -> int:
        """Every event before this time has been acknowledged (pending ones hold it back)."""
        return min(self.watermark, min(self.pending.values(), default=self.watermark))

    def retain_from(self) -> int:
        """Ids of events older than this can no longer come back from an archive repair."""
        oldest = min([hole.start for hole in self.holes] + [self.safe_point()])
        return floor_hour(oldest - self.timing.reorder_ms) - HOUR_MS

    def prune(self) -> int:
        """Forget ids that no repair can bring back; returns how many were dropped."""
        return self.seen.forget_before(self.retain_from())

    def snapshot(self, *, clean_close: bool = False) -> dict[str, Any]:
        """The checkpoint (ids are journaled apart); `clean_close` only after a full drain."""
        return {
            "version": SNAPSHOT_VERSION,
            "watermark": self.safe_point(),
            "holes": [[hole.start, hole.end] for hole in self.holes],
            "clean_close_at": self.live_closed_at if clean_close and not self.pending else None,
            # Hours fetched early stay fetched across a restart or `run --once`: "early, once".
            "fetched_early": sorted([hour, at] for hour, at in self.fetched.items()),
        }

    @classmethod
    def restore(cls, timing: Timing, snapshot: dict[str, Any], seen: Seen) -> Coverage:
        """Resume after a stop: after a crash, everything since the watermark is a hole."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"checkpoint version {snapshot.get('version')!r} is not {SNAPSHOT_VERSION}")
        holes = [Hole(int(start), None if end is None else int(end)) for start, end in snapshot["holes"]]
        coverage = cls(timing, watermark=int(snapshot["watermark"]), holes=holes, seen=seen)
        coverage.fetched = {int(hour): int(at) for hour, at in snapshot.get("fetched_early", [])}
        clean = snapshot.get("clean_close_at")
        if clean is None:
            coverage.holes.append(Hole(coverage.watermark - timing.reorder_ms))
        else:
            coverage.live_closed_at = int(clean)
        coverage._tidy()
        return coverage


def _sound(hole: Hole) -> bool:
    return hole.end is None or hole.end > hole.start


def _subtract(hole: Hole, start: int, end: int) -> list[Hole]:
    """`hole` minus `[start, end)`: zero, one or two holes."""
    pieces = []
    if hole.start < start:
        left_end = start if hole.end is None else min(hole.end, start)
        pieces.append(Hole(hole.start, left_end))
    if hole.end is None or hole.end > end:
        pieces.append(Hole(max(hole.start, end), hole.end))
    return [piece for piece in pieces if piece.end is None or piece.end > piece.start]
