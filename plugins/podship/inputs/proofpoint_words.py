"""The words of `proofpoint_pod`: what it logs for each of the connector core's notes, and its
lines about starting and sessions. The core decides; this says it.

The wording of the notes is kept as it was when the core returned text: users and tests grep for
it ("failures in a row", "reconnecting in", "another connector or collector", "the server closes
every session after the same event").
"""

from __future__ import annotations

from podship.core.connector import Ended
from podship.core.connector_notes import (
    Barren,
    Conflict,
    NewEventsAgain,
    Note,
    Reconnecting,
    ReleaseWait,
    StillBarren,
)
from podship.core.coverage import Coverage
from podship.core.pod import iso_utc
from podship.core.units import counted, render_duration


def words(note: Note) -> str:
    """The log line of one note (its level is the note's own)."""
    match note:
        case Reconnecting():
            return _reconnecting(note)
        case ReleaseWait(step=step):
            return f"409: the server has not released our last session yet; again in {step:.2f}s"
        case Conflict():
            return _conflict(note)
        case NewEventsAgain(barren=barren):
            return f"new events again, after {barren} sessions in a row that brought none"
        case Barren():
            return f"{_barren(note)}; {_reconnecting(note.then)}"
        case StillBarren(sessions=sessions, then=then):
            return f"still: {sessions} sessions in a row brought nothing new; {_reconnecting(then)}"


def _reconnecting(note: Reconnecting) -> str:
    streak = f" ({note.streak} failures in a row)" if note.counted else ""
    return f"{note.problem}{streak}; reconnecting in {note.delay:.1f}s"


def _conflict(note: Conflict) -> str:
    return (
        f"409 for more than {note.release_wait:g}s after our own session ended: another connector or "
        f"collector holds this API key for type {note.kind}; give each its own key. "
        + _reconnecting(note.then)
    )


def _barren(note: Barren) -> str:
    what = (
        f"the server closes every session after the same event ({note.cut})"
        if note.cut
        else "the server ends every session before any new event"
    )
    return (
        f"{what}: {note.sessions} sessions in a row brought nothing new; podship backs off (up to "
        f"{note.backoff_max:g}s) instead of reconnecting at once, and says this again every "
        f"{note.every_secs / 60:g} minutes while it lasts"
    )


def started(coverage: Coverage, first: bool, backfill_secs: float) -> str:
    """The first line of a connector: a first start's backfill, or where the checkpoint resumes."""
    if first:
        return (
            f"first start: backfilling {render_duration(backfill_secs)}, from {iso_utc(coverage.watermark)}"
        )
    holes = f"; {counted(len(coverage.holes), 'hole')} to repair" if coverage.holes else ""
    return f"resumed from the checkpoint: delivered up to {iso_utc(coverage.watermark)}{holes}"


def why(how: Ended, stopping: bool) -> str:
    """Why a live session closed."""
    return {
        Ended.COMPLETE: "the server closed it",
        Ended.CLOSED: "stopping" if stopping else "an archive repair is due",
        Ended.IDLE: "caught up with the present (--once)",
        Ended.DROPPED: "the connection dropped",
    }[how]
