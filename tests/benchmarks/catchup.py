"""How fast podship catches up with the shipped defaults, under the real API's faults.

The simulator runs with its real-world fault profile (connections cut every 250 frames, 409 for
3 s after every session ends, storms of 503s, an archive that lags 30 minutes); `podship run` runs
as a user runs it, with nothing set but `backfill`. Three figures, each the wall time until every
event of a span is on podship's stdout, checked id by id against the simulator's timeline:

- backfill: a one-day backfill of a `message` and a `maillog` connector (about 6,000 events), every
  event the archive holds at the start;
- seam: after a first start, the events of the hour before and of the current hour that the
  archive already holds (before early fetching: up to two hours late);
- outage: the same after a three-hour outage, every event of the outage that the archive holds.

    python tests/benchmarks/catchup.py            # all three
    PODSHIP_PYTHONPATH=/old/checkout/plugins python tests/benchmarks/catchup.py   # another podship
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import SimOptions, Simulator, real_world_faults

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.helpers import write_pipeline
from tests.reliability.common import FileLedger

KEY = "catchup-key-5b1e0c"
KINDS = ("message", "maillog")
# About 6,000 events a day over the two types, message : maillog about 1 : 2.3.
LINE = Timeline(seed=5, rates={"message": 0.021, "maillog": 0.048, "audit": 0.0001}, big_every=0)
LAG = 30 * 60_000  # the simulator's archive staleness


class Run:
    """A simulator with the fault profile and one podship process writing stdout to a file."""

    def __init__(self, folder: Path, start_ms: int, backfill: str) -> None:
        self.folder, self.start_ms, self.backfill = folder, start_ms, backfill
        options = SimOptions(timeline=LINE, start_ms=start_ms, tokens={KEY: "acme_hosted"}, release_secs=3.0)
        options.faults = real_world_faults()
        self.sim = Simulator(options)
        self.out = FileLedger(folder / "out.ndjson")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        inputs = [
            {
                "name": "proofpoint_pod",
                "tenant": "acme",
                "cluster_id": "acme_hosted",
                "api_key": "${POD_API_KEY}",
                "type": kind,
                "url": self.sim.url,
                "backfill": self.backfill,
            }
            for kind in KINDS
        ]
        config = write_pipeline(
            self.folder / "podship.yaml", inputs, service={"state_dir": str(self.folder / "state")}
        )
        env = {**os.environ, "POD_API_KEY": KEY}
        if os.environ.get("PODSHIP_PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PODSHIP_PYTHONPATH"]
        with (self.folder / "out.ndjson").open("ab") as out, (self.folder / "err.log").open("ab") as err:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "podship", "run", "-c", str(config), stdout=out, stderr=err, env=env
            )
        return time.monotonic()

    async def stop(self) -> None:
        assert self.process is not None
        await asyncio.sleep(1.0)  # past podship's start-up, so that SIGTERM is caught
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 60)

    def expected(self, start: int, end: int) -> set[str]:
        return {event_id for kind in KINDS for event_id in LINE.ids(kind, start, end)}

    async def until_out(self, ids: set[str], started: float, limit: float) -> float | None:
        """Seconds from `started` until every id is out; None if `limit` passed first."""
        while not ids <= set(self.out.read()):
            if time.monotonic() - started > limit:
                return None
            await asyncio.sleep(0.2)
        return time.monotonic() - started


def figure(name: str, seconds: float | None, ids: set[str], run: Run, limit: float) -> None:
    missing = len(ids - set(run.out.read()))
    twice = sum(1 for count in run.out.ids.values() if count > 1)
    took = f"{seconds:.1f} s" if seconds is not None else f"not done after {limit:.0f} s ({missing} missing)"
    stats = run.sim.stats
    print(
        f"{name:9} {len(ids):6} events out in {took}; duplicated {twice}; "
        f"server: {stats['drops']} cuts, {stats['refused']} refusals, {stats['handshakes']} handshakes",
        flush=True,
    )


async def first_start(name: str, backfill: str, since: int, folder: Path, limit: float) -> None:
    """A first start at ten to the hour: the time until every event from `since` (relative to the
    start) that the archive holds is out."""
    start = LINE.epoch_ms + 30 * HOUR_MS + 50 * 60_000
    run = Run(folder, start, backfill)
    async with run.sim:
        began = await run.start()
        ids = run.expected(start + since, start - LAG)
        figure(name, await run.until_out(ids, began, limit), ids, run, limit)
        await run.stop()


async def backfill(folder: Path, limit: float) -> None:
    await first_start("backfill", "1d", -24 * HOUR_MS, folder, limit)


async def seam(folder: Path, limit: float) -> None:
    # the hour before the start's hour and the start's own hour (the start is at 50 past)
    await first_start("seam", "3h", -HOUR_MS - 50 * 60_000, folder, limit)


async def outage(folder: Path, limit: float) -> None:
    start = LINE.epoch_ms + 30 * HOUR_MS + 10 * 60_000
    run = Run(folder, start, "1h")
    async with run.sim:
        began = await run.start()
        await run.until_out(run.expected(start - HOUR_MS, start - LAG), began, limit)
        stopped = run.sim.clock.now()
        await run.stop()
        run.sim.clock.advance(3 * HOUR_MS)
        began = await run.start()
        ids = run.expected(stopped, run.sim.clock.now() - LAG)
        figure("outage", await run.until_out(ids, began, limit), ids, run, limit)
        await run.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=float, default=600.0, help="give up on a figure after this")
    parser.add_argument("--only", choices=("backfill", "seam", "outage"))
    args = parser.parse_args()
    print(f"podship from {os.environ.get('PODSHIP_PYTHONPATH') or 'this checkout'}; defaults; fault profile")
    for name, scenario in (("backfill", backfill), ("seam", seam), ("outage", outage)):
        if args.only in (None, name):
            with tempfile.TemporaryDirectory() as folder:
                await scenario(Path(folder), args.limit)


if __name__ == "__main__":
    asyncio.run(main())
