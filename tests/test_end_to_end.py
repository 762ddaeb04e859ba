"""The whole promise, end to end: the real `podship run` process against the simulator.

Drops without a close frame (losing frames in flight), a burst of 409s, junk frames, events over
1 MiB, and outages of hours: every event the simulator generated for the covered period reaches
stdout exactly once. The covered period runs from the backfill start to the last hour that the
archive holds completely, since podship can prove nothing later than that yet.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from podship.core.pod import HOUR_MS, floor_hour
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults
from tests.helpers import write_pipeline
from tests.pipes import connector, run_podship
from tests.reliability.common import FileLedger

KEY = "pod-key-for-the-end-to-end-test-7f3a9c"
LINE = Timeline(seed=11, rates={"message": 0.5, "maillog": 1.0, "audit": 0.0001}, big_every=1500)
S0 = LINE.epoch_ms + 10 * HOUR_MS
ARCHIVE_DELAY = HOUR_MS  # the shipped default


class Podship:
    """The real console entry point in a child process, as an operator runs it."""

    def __init__(self, tmp_path, sim):
        self.config = write_pipeline(
            tmp_path / "podship.yaml",
            [connector(sim, kind, backfill="2h") for kind in ("message", "maillog")],
            service={
                "state_dir": str(tmp_path / "state"),
                "checkpoint_interval": "0.2s",
                "grace_period": "20s",
            },
        )
        self.stdout, self.stderr = tmp_path / "out.ndjson", tmp_path / "err.log"
        self.process = None

    async def start(self):
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.process = await run_podship(self.config, KEY, out, err)

    async def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)


async def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def live_jump(sim, output, faults, ms, drop_every):
    """Move the clock while podship streams live; wait until it has caught up with the jump."""
    faults.drop_every, drops = drop_every, sim.stats["drops"]
    sim.clock.advance(ms)
    target = sim.clock.now() - 5 * 60_000

    def caught_up():
        output.read()
        return output.newest >= target

    await wait_for(caught_up, 180, "the live catch-up")
    assert sim.stats["drops"] > drops or not drop_every


def expected_ids(start, end):
    return {event_id for kind in ("message", "maillog") for event_id in LINE.ids(kind, start, end)}


async def test_nothing_lost_nothing_twice_through_drops_refusals_junk_and_outages(simulator, tmp_path):
    faults = Faults(drop_every=300, drop_lose=3, bad_every=500, binary_every=7)
    sim = await simulator(
        timeline=LINE, start_ms=S0, faults=faults, release_secs=0.1, tokens={KEY: "acme_hosted"}
    )
    podship, output = Podship(tmp_path, sim), None
    output = FileLedger(podship.stdout)

    # 1. First start: backfill two hours from the archive, then live. Stop cleanly.
    await podship.start()
    first_hour = expected_ids(S0 - 2 * HOUR_MS, S0 - HOUR_MS)
    await wait_for(lambda: first_hour <= set(output.read()), 180, "the first backfilled hour")
    assert await podship.terminate() == 0

    # 2. A three-hour outage; the restart meets a burst of 409s, then repairs from the archive.
    sim.clock.advance(3 * HOUR_MS)
    faults.refuse_count = 5
    await podship.start()
    repaired = expected_ids(S0 - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    await wait_for(lambda: repaired <= set(output.read()), 180, "the outage repaired from the archive")

    # Live traffic in three jumps of the clock: a clean hour, forty minutes with drops, a clean
    # hour. No restart hole touches the hour of the drops, so only their own holes can repair it.
    await live_jump(sim, output, faults, HOUR_MS, drop_every=0)
    await live_jump(sim, output, faults, 40 * 60_000, drop_every=300)
    await live_jump(sim, output, faults, HOUR_MS, drop_every=0)
    assert await podship.terminate() == 0

    # 3. Two more hours pass with podship down: the hours of every hole are now complete in the
    # archive, and the restart repairs them.
    sim.clock.advance(2 * HOUR_MS)
    await podship.start()
    covered = expected_ids(S0 - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    await wait_for(lambda: covered <= set(output.read()), 180, "every hole repaired")
    assert await podship.terminate() == 0

    ids = output.read()
    missing = covered - set(ids)
    twice = {event_id: n for event_id, n in ids.items() if n > 1}
    print(
        f"covered {len(covered)} events; shipped {len(ids)} ids; missing {len(missing)}; duplicated {len(twice)}; drops {sim.stats['drops']}; refused {sim.stats['refused']}"
    )
    assert not missing
    assert not twice
    assert output.largest > 1 << 20, "an event over 1 MiB went through whole"
    assert sim.stats["refused"] >= 5

    letters = [
        json.loads(line)
        for kind in ("message", "maillog")
        for line in (tmp_path / "state" / f"acme-{kind}" / "deadletter.jsonl").read_text().splitlines()
    ]
    assert letters, "junk frames were set aside"
    assert all(letter["reason"] for letter in letters)
    logs = podship.stderr.read_text()
    assert KEY not in logs
    assert "reconnecting" in logs
