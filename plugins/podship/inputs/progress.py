"""The backfill and repair progress line of a connector.

The time left is the archive hours still to fetch times what a fetched hour has cost so far,
measured over the archive sessions that the server completed (their handshake, frames and close),
not over the process's life: waits for the archive, live sessions and early windows that close
after 30 s of silence say nothing about how long the next hours take. Until one such session has
been measured, the line says no time at all rather than a guess.
"""

from __future__ import annotations

from podship.core.units import counted, render_span


class Progress:
    def __init__(self) -> None:
        self.hours, self.secs, self.events = 0, 0.0, 0

    def measured(self, hours: int, secs: float, events: int) -> None:
        """A complete archive session of `hours` took `secs` and brought `events` new events."""
        self.hours, self.secs, self.events = self.hours + hours, self.secs + secs, self.events + events

    def line(self, word: str, done: int, left: int, ready: int, bar: str) -> str:
        """`backfill: 12 archive hours done, 156 to go, 3120 events/s, about 2h10m left`; the time
        is for the `ready` hours, those the archive can give now (the others are awaited)."""
        text = f"{word}: {bar}{counted(done, 'archive hour')} done, {left} to go"
        if not (self.hours and self.secs > 0):
            return text
        text += f", {self.events / self.secs:.0f} events/s"
        if ready:
            text += f", about {render_span(ready * self.secs / self.hours)} left"
            text += f" for the {ready} due now" if ready < left else ""
        return text

    @staticmethod
    def awaiting(word: str, done: int, awaiting: str) -> str:
        return f"{word}: {counted(done, 'archive hour')} done; awaiting {awaiting}"


def bar(done: int, total: int, width: int = 24) -> str:
    """`[#########...............] ` for people watching a terminal; logs off a terminal get none."""
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] "
