"""`podship run --once`: catch up to the present, deliver, commit, exit 0; nothing delivered twice.

The real console entry point against the simulator, three runs as cron would make them: a first
start (the backfill), a run two hours later (the outage repaired from the archive as far as it
holds it), and an immediate third run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter

from podship.core.pod import HOUR_MS, floor_hour
from podship.devtools.simgen import Timeline
from tests.helpers import write_pipeline
from tests.pipes import connector

KEY = "pod-key-for-the-once-test-5d1e"
LINE = Timeline(seed=23, rates={"message": 0.5, "maillog": 0.5, "audit": 0.0001}, big_every=0)
S0 = LINE.epoch_ms + 10 * HOUR_MS + 20 * 60_000
KINDS = ("message", "maillog")


async def once(tmp_path, sim):
    """`podship run --once` as cron runs it (from another folder: the state goes beside the file)."""
    config = write_pipeline(
        tmp_path / "podship.yaml",
        [connector(sim, kind, backfill="2h") for kind in KINDS],
        service={"state_dir": "state"},
    )
    with (tmp_path / "out.ndjson").open("ab") as out, (tmp_path / "err.log").open("ab") as err:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "podship", "run", "--once", "-c", str(config)),
            stdout=out,
            stderr=err,
            env={**os.environ, "POD_API_KEY": KEY},
            cwd="/",
        )
        try:
            return await asyncio.wait_for(process.wait(), 120)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def shipped(tmp_path):
    lines = (tmp_path / "out.ndjson").read_bytes().splitlines()
    return Counter(json.loads(line)["event_id"] for line in lines)


def ids(start, end):
    return {event_id for kind in KINDS for event_id in LINE.ids(kind, start, end)}


async def test_once_catches_up_commits_and_never_ships_twice(simulator, tmp_path):
    sim = await simulator(timeline=LINE, start_ms=S0, tokens={KEY: "acme_hosted"}, release_secs=0.1)
    assert await once(tmp_path, sim) == 0
    first = shipped(tmp_path)
    assert ids(S0 - 2 * HOUR_MS, S0 - 31 * 60_000) <= set(first), "the backfill the archive holds"
    assert max(first.values()) == 1
    assert (tmp_path / "state" / "acme-message" / "checkpoint.json").exists()
    assert "caught up with the present (--once)" in (tmp_path / "err.log").read_text()

    sim.clock.advance(2 * HOUR_MS)
    assert await once(tmp_path, sim) == 0
    second = shipped(tmp_path)
    covered = ids(S0 - 2 * HOUR_MS, floor_hour(sim.clock.now() - HOUR_MS))
    assert not covered - set(second), "every hour the archive holds completely"
    assert len(second) > len(first)
    assert max(second.values()) == 1

    assert await once(tmp_path, sim) == 0
    third = shipped(tmp_path)
    assert max(third.values()) == 1, "a further run delivers nothing twice"
    assert KEY not in (tmp_path / "err.log").read_text()


async def test_a_second_run_does_not_fetch_the_early_hour_again(simulator, tmp_path):
    """The seam hour is fetched early once; the checkpoint remembers it, so a run right after the
    first (cron, a restart) resumes live and re-downloads nothing (it was 3,608 frames, all dups)."""
    sim = await simulator(timeline=LINE, start_ms=S0, tokens={KEY: "acme_hosted"}, release_secs=0.1)
    assert await once(tmp_path, sim) == 0
    frames, records = sim.stats["frames"], sum(shipped(tmp_path).values())
    assert "(early: the archive may not hold all of it yet)" in (tmp_path / "err.log").read_text()
    assert await once(tmp_path, sim) == 0
    sent = sim.stats["frames"] - frames
    new = sum(shipped(tmp_path).values()) - records
    assert sent - new == 0, f"the second run was sent {sent} frames for {new} new records"
    assert max(shipped(tmp_path).values()) == 1
