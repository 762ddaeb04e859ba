"""Property: checkpoints, the id journal and holes together ship every event exactly once.

A connector's life is drawn at random: events arrive out of order (within the reorder window),
some twice; the pipeline acknowledges what it took in order, in batches of any size; the process
crashes at any moment, losing what was in flight, and restarts from the files on disk. After each
restart the archive replays every past event inside a hole. Whatever the draw, every event is
shipped once, and no event is shipped twice.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podship.core.coverage import Timing
from podship.core.pod import HOUR_MS
from podship.runtime.state import Store

REORDER = 300_000
TIMING = Timing(reorder_ms=REORDER)
T0 = 1_793_491_200_000


@st.composite
def lives(draw):
    count = draw(st.integers(1, 60))
    times = sorted(draw(st.lists(st.integers(0, 4 * HOUR_MS), min_size=count, max_size=count)))
    lateness = draw(st.lists(st.integers(0, REORDER - 1), min_size=count, max_size=count))
    events = [(f"id{n}", T0 + ts) for n, ts in enumerate(times)]
    arrival = sorted(range(count), key=lambda n: times[n] + lateness[n])  # out of order, within the window
    again = draw(st.lists(st.integers(0, count - 1), max_size=count // 3))
    stream = [events[n] for n in arrival] + [events[n] for n in again]
    steps = draw(
        st.lists(st.sampled_from(["take", "take", "take", "ack", "commit", "crash"]), max_size=4 * count)
    )
    return stream, steps


class Life:
    def __init__(self, folder: Path) -> None:
        self.folder, self.shipped, self.past = folder, Counter(), []
        self.store = Store(folder, "c")
        self.coverage = self.store.load(TIMING, T0, 0)
        self.coverage.holes.clear()  # a first start with nothing to backfill
        self.coverage.live_opened(T0)
        self.in_flight = []

    def take(self, event, *, replayed=False):
        if not replayed:
            self.past.append(event)
        if self.coverage.admit(*event):
            self.in_flight.append(event)

    def ack(self, count=None):
        count = len(self.in_flight) if count is None else count
        done, self.in_flight = self.in_flight[:count], self.in_flight[count:]
        self.coverage.acknowledge(done)
        self.store.journal(done)
        self.shipped.update(event_id for event_id, _ in done)

    def crash_and_restart(self):
        self.in_flight = []  # lost with the process
        self.store = Store(self.folder, "c")
        self.coverage = self.store.load(TIMING, T0, 0)
        self.replay_holes()

    def replay_holes(self):
        """The archive brings back every past event inside a hole, then the holes are closed."""
        for event_id, ts in self.past:
            if any(hole.start <= ts and (hole.end is None or ts < hole.end) for hole in self.coverage.holes):
                self.take((event_id, ts), replayed=True)
        self.ack()
        self.coverage.holes.clear()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lives())
def test_every_event_is_shipped_once_whatever_the_order_crashes_and_batches(life_plan):
    stream, steps = life_plan
    with tempfile.TemporaryDirectory() as folder:
        life, position = Life(Path(folder)), 0
        for step in steps:
            if step == "take" and position < len(stream):
                life.take(stream[position])
                position += 1
            elif step == "ack":
                life.ack(len(life.in_flight) // 2 or None)
            elif step == "commit":
                life.store.commit(life.coverage)
            elif step == "crash":
                life.crash_and_restart()
        for event in stream[position:]:
            life.take(event)
        life.ack()
        expected = {event_id for event_id, _ in stream}
        assert set(life.shipped) == expected, "an event was never shipped"
        assert max(life.shipped.values(), default=1) == 1, "an event was shipped twice"
