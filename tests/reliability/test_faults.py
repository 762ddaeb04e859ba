"""Faults of the network and the server: the real podship process against the simulator.

Drops without a close frame that lose the frames in flight, storms of 409, 429 and 503 refusals,
and outages longer than the server's one-hour live resume, again and again: every event of the
covered period reaches stdout exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from podship.core.pod import HOUR_MS, floor_hour
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults, real_world_faults
from tests.reliability.common import (
    ARCHIVE_DELAY,
    KEY,
    KINDS,
    FileLedger,
    Podship,
    expected,
    scaled,
    timeline,
    wait_for,
)


def covered_until(sim):
    """The last hour the archive holds completely: podship can prove nothing later yet."""
    return floor_hour(sim.clock.now() - ARCHIVE_DELAY)


@pytest.mark.parametrize("status", [409, 429, 503])
async def test_refusal_storms_and_drops_lose_nothing_and_repeat_nothing(simulator, tmp_path, status):
    line = timeline(seed=21 + status)
    start = line.epoch_ms + 6 * HOUR_MS
    # Storms of 6 refusals: with the shipped backoff (2 s doubling) a 429/503 storm costs ~10 s.
    faults = Faults(drop_every=150, drop_lose=4, refuse_count=6, refuse_status=status)
    sim = await simulator(
        timeline=line, start_ms=start, faults=faults, release_secs=0.05, tokens={KEY: "acme_hosted"}
    )
    podship, ledger = Podship(tmp_path, sim), None
    ledger = FileLedger(podship.stdout)
    await podship.start()
    await wait_for(podship.started, 120, "both connectors started")  # they backfill from this clock
    for _ in range(scaled(2, 6)):  # an hour of live traffic with drops, and a storm at each reconnect
        faults.refuse_count = 6
        sim.clock.advance(HOUR_MS)
        target = sim.clock.now() - 5 * 60_000
        await wait_for(lambda t=target: ledger.read() and ledger.newest >= t, 180, "live catch-up")
    assert await podship.terminate() == 0
    sim.clock.advance(2 * HOUR_MS)  # down for two hours: every hole's hours are complete in the archive
    await podship.start()
    covered = expected(line, start - 2 * HOUR_MS, covered_until(sim))
    await wait_for(lambda: covered <= set(ledger.read()), 180, "every hole repaired")
    assert await podship.terminate() == 0
    missing, twice = ledger.verdict(
        f"refusals {status}", covered, drops=sim.stats["drops"], refused=sim.stats["refused"]
    )
    assert not missing and not twice and not ledger.torn
    assert sim.stats["drops"] >= 2 and sim.stats["refused"] >= 6


async def test_repeated_outages_longer_than_an_hour(simulator, tmp_path):
    line = timeline(seed=31)
    start = line.epoch_ms + 4 * HOUR_MS
    sim = await simulator(timeline=line, start_ms=start, release_secs=0.05, tokens={KEY: "acme_hosted"})
    podship = Podship(tmp_path, sim)
    ledger = FileLedger(podship.stdout)
    outages = scaled(3, 10)
    for n in range(outages):
        await podship.start()
        now_covered = expected(line, start - 2 * HOUR_MS, covered_until(sim))
        await wait_for(lambda c=now_covered: c <= set(ledger.read()), 180, f"coverage after outage {n}")
        assert await podship.terminate() == 0
        sim.clock.advance(HOUR_MS + (n % 3) * 25 * 60_000)  # 60, 85, 110 minutes down
    await podship.start()
    sim.clock.advance(HOUR_MS)
    covered = expected(line, start - 2 * HOUR_MS, covered_until(sim))
    await wait_for(lambda: covered <= set(ledger.read()), 180, "the last outage repaired")
    assert await podship.terminate() == 0
    missing, twice = ledger.verdict("outages", covered, outages=outages)
    assert not missing and not twice


async def test_the_real_world_fault_profile_loses_nothing_and_repeats_nothing(simulator, tmp_path):
    """Cuts every 250 frames (archive sessions too), 409 for 3 s after every session, 503 storms, on
    a small tenant (about 250 events an hour, so that an archive hour fits between two cuts): the
    backfill, then two hours of live traffic at once, every event exactly once."""
    line = Timeline(seed=41, rates={"message": 0.021, "maillog": 0.048, "audit": 0.0001}, big_every=0)
    start = line.epoch_ms + 30 * HOUR_MS + 50 * 60_000
    faults = real_world_faults()
    sim = await simulator(
        timeline=line, start_ms=start, faults=faults, release_secs=3.0, tokens={KEY: "acme_hosted"}
    )
    backfill = scaled(6, 24) * HOUR_MS
    podship = Podship(tmp_path, sim, backfill=f"{backfill // HOUR_MS}h")
    ledger = FileLedger(podship.stdout)
    await podship.start()
    held = expected(line, start - backfill, start - 30 * 60_000)  # what the archive holds at start
    await wait_for(lambda: held <= set(ledger.read()), 300, "the backfill under the fault profile")
    sim.clock.advance(2 * HOUR_MS)
    covered = expected(line, start - backfill, sim.clock.now() - 30 * 60_000)
    await wait_for(lambda: covered <= set(ledger.read()), 300, "two live hours with cuts")
    assert await podship.terminate() == 0
    missing, twice = ledger.verdict(
        "real-world faults", covered, drops=sim.stats["drops"], refused=sim.stats["refused"]
    )
    assert not missing and not twice and not ledger.torn
    assert sim.stats["drops"] >= 5 and sim.stats["refused"] >= 3
    logs = podship.stderr.read_text()
    assert "another connector or collector" not in logs, "our own release delays are not a conflict"


async def test_a_server_that_cuts_every_session_after_the_same_event_gets_backoff_not_a_storm(
    simulator, tmp_path
):
    """Elastic's PoD mock: one event, then the TCP connection closes without a close frame, every
    session, the same event each time. Only new events are progress: duplicates back off."""
    line = timeline(seed=31)
    faults = Faults(cut_after=1, binary_every=0)
    sim = await simulator(timeline=line, faults=faults, tokens={KEY: "acme_hosted"})
    podship = Podship(tmp_path, sim, backfill="0s")
    ledger = FileLedger(podship.stdout)
    await podship.start()
    await asyncio.sleep(60)  # podship's backoff runs on its own clock: a minute of real time
    assert await podship.terminate() == 0
    log = podship.stderr.read_text()
    sessions = sim.stats["handshakes"] - sim.stats["refused"]
    ledger.verdict("cut after one event", set(ledger.read()), sessions=sessions, log_lines=log.count("\n"))
    assert len(ledger.ids) == len(KINDS) and set(ledger.ids.values()) == {1}  # each event out once
    assert sessions <= 12 * len(KINDS), f"{sessions} sessions in a minute"
    assert log.count("\n") <= 24 * len(KINDS), log
    assert log.count("the server closes every session after the same event") == len(KINDS), log
    assert "Traceback" not in log
