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
    """Fetch `[hour, hour + 1h)` from the archive, then plan again."""

    hour: int


@dataclass(frozen=True, slots=True)
class Live:
    """Stream live; close cleanly and plan again at `until` (server time), if set."""

    until: int | None


@dataclass(frozen=True, slots=True)
class Timing:
    """The knobs of the coverage logic, in milliseconds."""

    reorder_ms: int = 300_000  # how far out of order event times may arrive
    archive_delay_ms: int = HOUR_MS  # how long after an hour ends the archive holds all of it
    resume_ms: int = 50 * 60_000  # a live reconnect within this resumes where it left off


@dataclass
class Coverage:
    """Holes, watermark and deduplication state of one connector."""

    timing: Timing
    watermark: int
    holes: list[Hole] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    newest_acked: int = 0
    pruned_before: int | None = None
    live_closed_at: int | None = None
    session_mark: int | None = None
    unrecoverable_ms: int = 0

    @classmethod
    def fresh(cls, timing: Timing, now: int, backfill_ms: int) -> Coverage:
        """A first start: everything since `now - backfill` is a hole, open until live starts."""
        start = now - backfill_ms
        return cls(timing, watermark=start, holes=[Hole(start)])

    # --- events -----------------------------------------------------------------------------

    def admit(self, event_id: str, ts: int) -> bool:
        """True for an event not seen before; it is then pending until acknowledged."""
        if event_id in self.seen or event_id in self.pending:
            return False
        self.pending[event_id] = ts
        if self.session_mark is None or ts > self.session_mark:
            self.session_mark = ts
        return True

    def acknowledge(self, acked: Iterable[tuple[str, int]]) -> None:
        """Every output has these events: remember their ids and move the watermark."""
        for event_id, ts in acked:
            self.pending.pop(event_id, None)
            self.seen[event_id] = ts
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
                hole.end = now + reorder
        self.live_closed_at = None
        self.session_mark = now

    def live_closed(self, now: int, *, clean: bool) -> None:
        """The live session ended; a clean close keeps the server's resume point exact."""
        if clean:
            self.live_closed_at = now
        else:
            start = now if self.session_mark is None else self.session_mark
            self.holes.append(Hole(start - self.timing.reorder_ms))
        self.session_mark = None

    # --- planning -----------------------------------------------------------------------------

    def next_action(self, now: int) -> Archive | Live:
        """The oldest hour of a hole that the archive holds completely, else live until one does."""
        self._expire(now)
        complete_before = now - self.timing.archive_delay_ms - HOUR_MS
        first = self._first_hole_hour()
        if first is not None and first <= complete_before:
            return Archive(first)
        until = None if first is None else first + HOUR_MS + self.timing.archive_delay_ms
        return Live(until)

    def hours_to_repair(self, now: int) -> int:
        """How many archive hours the holes still need, counting those not complete yet."""
        return len({hour for hole in self.holes for hour in hole.hours(now)})

    def _first_hole_hour(self) -> int | None:
        starts = [floor_hour(hole.start) for hole in self.holes]
        return min(starts, default=None)

    def archive_done(self, hour: int) -> None:
        """The archive delivered `[hour, hour + 1h)` and closed normally: that hour is whole."""
        self.holes = [piece for hole in self.holes for piece in _subtract(hole, hour, hour + HOUR_MS)]

    def _expire(self, now: int) -> None:
        """Hours older than the archive keeps cannot be fetched; count them instead of looping."""
        oldest = floor_hour(now - ARCHIVE_LIMIT_MS) + HOUR_MS
        for hole in list(self.holes):
            if hole.start < oldest:
                end = oldest if hole.end is None else min(hole.end, oldest)
                self.unrecoverable_ms += max(0, end - hole.start)
                self.holes.remove(hole)
                self.holes.extend(_subtract(hole, hole.start, oldest))

    # --- persistence --------------------------------------------------------------------------

    def safe_point(self) -> int:
        """Every event before this time has been acknowledged (pending ones hold it back)."""
        return min(self.watermark, min(self.pending.values(), default=self.watermark))

    def retain_from(self) -> int:
        """Ids of events older than this can no longer come back from an archive repair."""
        oldest = min([hole.start for hole in self.holes] + [self.safe_point()])
        return floor_hour(oldest - self.timing.reorder_ms) - HOUR_MS

    def prune(self) -> list[str]:
        """Forget ids that no repair can bring back; returns the ids dropped."""
        cutoff = self.retain_from()
        if cutoff == self.pruned_before:  # it moves an hour at a time; scanning every id is costly
            return []
        self.pruned_before = cutoff
        stale = [event_id for event_id, ts in self.seen.items() if ts < cutoff]
        for event_id in stale:
            del self.seen[event_id]
        return stale

    def snapshot(self, *, clean_close: bool = False) -> dict[str, Any]:
        """The checkpoint (ids are journaled apart); `clean_close` only after a full drain."""
        return {
            "version": SNAPSHOT_VERSION,
            "watermark": self.safe_point(),
            "holes": [[hole.start, hole.end] for hole in self.holes],
            "clean_close_at": self.live_closed_at if clean_close and not self.pending else None,
        }

    @classmethod
    def restore(cls, timing: Timing, snapshot: dict[str, Any], seen: dict[str, int]) -> Coverage:
        """Resume after a stop: after a crash, everything since the watermark is a hole."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"checkpoint version {snapshot.get('version')!r} is not {SNAPSHOT_VERSION}")
        holes = [Hole(int(start), None if end is None else int(end)) for start, end in snapshot["holes"]]
        coverage = cls(timing, watermark=int(snapshot["watermark"]), holes=holes, seen=seen)
        clean = snapshot.get("clean_close_at")
        if clean is None:
            coverage.holes.append(Hole(coverage.watermark - timing.reorder_ms))
        else:
            coverage.live_closed_at = int(clean)
        return coverage


def _subtract(hole: Hole, start: int, end: int) -> list[Hole]:
    """`hole` minus `[start, end)`: zero, one or two holes."""
    pieces = []
    if hole.start < start:
        left_end = start if hole.end is None else min(hole.end, start)
        pieces.append(Hole(hole.start, left_end))
    if hole.end is None or hole.end > end:
        pieces.append(Hole(max(hole.start, end), hole.end))
    return [piece for piece in pieces if piece.end is None or piece.end > piece.start]
