"""Crashes and stops: `kill -9` at random moments, dozens of times, and SIGTERM under heavy traffic.

After `kill -9`, each restart resumes from its checkpoint and the journal of acknowledged ids, which
is appended as each batch is acknowledged: nothing is lost, and at most the batch being written at
the moment of the kill is written again (stdout cannot tell us what its reader took). SIGTERM drains
what is in flight within the grace period, exits 0, and the next start repeats nothing.
"""

from __future__ import annotations

import asyncio
import random

from podship.core.pod import HOUR_MS, floor_hour
from tests.reliability.common import (
    ARCHIVE_DELAY,
    BATCH,
    KEY,
    FileLedger,
    Podship,
    expected,
    scaled,
    timeline,
    wait_for,
)


async def test_kill_9_dozens_of_times_during_backfill_and_live(simulator, tmp_path):
    line = timeline(seed=41, rate=4.0)
    start = line.epoch_ms + 3 * HOUR_MS
    sim = await simulator(timeline=line, start_ms=start, release_secs=0.05, tokens={KEY: "acme_hosted"})
    podship = Podship(tmp_path, sim)
    ledger = FileLedger(podship.stdout)
    chance = random.Random(41)
    kills = scaled(24, 80)
    for n in range(kills):
        await podship.start()
        await wait_for(podship.stderr.exists, 10, "the process to start")
        await asyncio.sleep(chance.uniform(0.3, 2.5))
        await podship.kill()
        if n % 6 == 5:  # some kills land in live streaming after an hour passed, some in backfill
            sim.clock.advance(20 * 60_000)
    sim.clock.advance(2 * HOUR_MS)  # the hours of every hole are complete in the archive
    await podship.start()
    covered = expected(line, start - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    await wait_for(
        lambda: covered <= set(ledger.read()), 240, "every hole repaired after the kills", podship.stderr
    )
    assert await podship.terminate() == 0
    missing, twice = ledger.verdict("kill -9", covered, kills=podship.kills)
    assert not missing
    assert sum(n - 1 for n in twice.values()) <= podship.kills * BATCH, "more than one batch per kill"
    assert ledger.torn <= podship.kills


async def test_sigterm_under_heavy_traffic_drains_and_the_next_start_repeats_nothing(simulator, tmp_path):
    line = timeline(seed=51, rate=6.0)
    start = line.epoch_ms + 3 * HOUR_MS
    sim = await simulator(timeline=line, start_ms=start, release_secs=0.05, tokens={KEY: "acme_hosted"})
    podship = Podship(tmp_path, sim, grace_period="15s")
    ledger = FileLedger(podship.stdout)
    for _ in range(scaled(3, 10)):
        before = len(ledger.read())
        await podship.start()
        await wait_for(lambda b=before: len(ledger.read()) > b, 30, "records flowing from this process")
        await asyncio.sleep(random.uniform(0.5, 1.5))  # mid-backfill: thousands of events a second
        assert await podship.terminate() == 0
    await podship.start()
    covered = expected(line, start - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    await wait_for(lambda: covered <= set(ledger.read()), 240, "the backfill completed")
    assert await podship.terminate() == 0
    missing, twice = ledger.verdict("SIGTERM", covered)
    assert not missing and not twice and not ledger.torn
    assert "grace period over" not in podship.stderr.read_text()
