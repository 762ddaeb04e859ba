"""The reliability suite's parts: a podship process, ledgers of what receivers got, the profile.

Every scenario compares the ids the simulator generated for the covered period with the ids a
receiver got, and prints both failure counts. `PODSHIP_SOAK=1` selects the long profile (more
kills, more outages, more traffic); the default is the short profile that CI runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from tests.helpers import write_pipeline
from tests.pipes import connector, run_podship

SOAK = os.environ.get("PODSHIP_SOAK") == "1"
KEY = "pod-key-reliability-3f9a1c77e0b2d4"
KINDS = ("message", "maillog")
ARCHIVE_DELAY = HOUR_MS  # the shipped default
STARTED: list[Podship] = []  # killed by the suite's conftest after each test
BATCH = 200  # podship's batch_size here: the most a kill -9 may repeat, per kill


def scaled(short: int, soak: int) -> int:
    return soak if SOAK else short


def timeline(seed: int, rate: float = 1.0) -> Timeline:
    return Timeline(seed=seed, rates={"message": 0.5 * rate, "maillog": 1.0 * rate, "audit": 0.0001})


def expected(line: Timeline, start: int, end: int) -> set[str]:
    """Every id of the covered period `[start, end)`."""
    return {event_id for kind in KINDS for event_id in line.ids(kind, start, end)}


class Ledger:
    """What a receiver got: a count per event id, and lines that were not whole records."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.torn = 0
        self.newest = 0

    def add(self, record: dict[str, object]) -> None:
        self.ids[str(record["event_id"])] += 1
        self.newest = max(self.newest, int(record["timestamp"]))  # type: ignore[call-overload]

    def verdict(self, name: str, covered: set[str], **facts: object) -> tuple[set[str], dict[str, int]]:
        """Missing ids and duplicated ids (with counts); prints both for the log of the run."""
        missing = covered - set(self.ids)
        twice = {event_id: n for event_id, n in self.ids.items() if n > 1}
        extra = " ".join(f"{key} {value}" for key, value in facts.items())
        print(
            f"[{name}] covered {len(covered)} events; received {len(self.ids)} ids; "
            f"missing {len(missing)}; duplicated {len(twice)}; torn lines {self.torn}; {extra}"
        )
        return missing, twice


class FileLedger(Ledger):
    """podship's stdout appended to a file, read incrementally."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path, self.offset, self.largest = path, 0, 0

    def read(self) -> Counter[str]:
        if self.path.exists():
            with self.path.open("rb") as stream:
                stream.seek(self.offset)
                data = stream.read()
            complete = data[: data.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.splitlines():
                self._line(line)
        return self.ids

    def _line(self, line: bytes) -> None:
        self.largest = max(self.largest, len(line))
        try:
            self.add(json.loads(line))
        except ValueError:  # a record cut by kill -9, then the next process's first record
            self.torn += 1


class Podship:
    """The real console entry point in a child process, stdout appended to a file."""

    def __init__(
        self,
        tmp_path: Path,
        sim: object,
        outputs: list | None = None,
        backfill: str = "2h",
        **service: object,
    ) -> None:
        inputs = [connector(sim, kind, backfill=backfill) for kind in KINDS]
        defaults = {"state_dir": str(tmp_path / "state"), "checkpoint_interval": "0.2s", "batch_size": BATCH}
        self.config = write_pipeline(
            tmp_path / "podship.yaml",
            inputs,
            service={**defaults, "grace_period": "20s", **service},
            outputs=outputs,
        )
        self.stdout, self.stderr = tmp_path / "out.ndjson", tmp_path / "err.log"
        self.process: asyncio.subprocess.Process | None = None
        self.kills = 0

    async def start(self, stdout: object = None) -> None:
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.process = await run_podship(self.config, KEY, stdout or out, err)
        STARTED.append(self)

    async def terminate(self) -> int:
        """SIGTERM once podship catches it: one sent during start-up, before the handler is set,
        would end the process by the default action (-15), which is not what this tests."""
        assert self.process is not None
        await wait_for(self._catches_sigterm, 20, "podship to install its SIGTERM handler")
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    async def kill(self) -> None:
        assert self.process is not None
        await reap(self.process)
        self.kills += 1

    def started(self) -> bool:
        """Every connector has saved a checkpoint: it knows the server's clock."""
        state = self.config.parent / "state"
        return all((state / f"acme-{kind}" / "checkpoint.json").exists() for kind in KINDS)

    def _catches_sigterm(self) -> bool:
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
        return bool(caught >> (signal.SIGTERM - 1) & 1)

    def rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


async def reap(process: asyncio.subprocess.Process) -> None:
    """`kill -9`, then wait for the end. asyncio reports a child's exit only once its pipes are
    closed too, and it stops reading a pipe whose buffer is full (a test that stopped reading):
    without draining it to the end, `wait()` would wait forever for a process long dead."""
    if process.returncode is None:
        process.kill()
    if process.stdout is not None:
        await asyncio.wait_for(process.stdout.read(), 30)
    await asyncio.wait_for(process.wait(), 30)


async def wait_for(condition: object, timeout: float, what: str, log: Path | None = None) -> None:
    """Until `condition()` holds; a timeout fails, with the end of podship's `log` when given
    (pytest keeps only its last temporary folders: the log must travel in the failure)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tail = f"\npodship's log ends:\n{log.read_text()[-4000:]}" if log and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}{tail}")
        await asyncio.sleep(0.2)
