"""State on a disk that fills up or fails: podship holds, says so, and resumes by itself.

`state_dir` on a real small tmpfs that the test mounts (as root, as CI runs; skipped otherwise),
filled during a backfill for about 30 s and then given room; the same with a `kill -9` while full
and a restart while still full; a journal cut mid-line; an I/O error and a read-only filesystem
through the state writer's test hook (a tmpfs can only run out of space). The process stays up
and prints no traceback; every event comes out once (after a `kill -9`, at most the batch being
written then comes out again). Every option keeps its shipped default.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import socket
import subprocess
import time

import pytest
import yaml

from podship.core.pod import HOUR_MS, floor_hour
from podship.devtools.simulator import Faults
from podship.runtime.state import FAULT_HOOK
from tests.reliability.common import (
    ARCHIVE_DELAY,
    KEY,
    KINDS,
    FileLedger,
    Podship,
    expected,
    timeline,
    wait_for,
)

SHIPPED_BATCH = 500  # batch_size's default: the most one kill -9 may repeat
FULL_SECS = 30


@pytest.fixture
def small_fs(tmp_path):
    """A 16 MiB tmpfs of the test's own."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for state_dir needs root (CI runs the suite as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


class Filler:
    """Takes every free byte of a filesystem (again and again: podship frees what it fails to
    fill), then gives it back."""

    def __init__(self, folder):
        self.path = folder / "filler"

    def top_up(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 1 << 12):  # then page by page: tmpfs allocates pages
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
                        break
        finally:
            os.close(fd)

    async def hold(self, seconds, check=None):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.top_up()
            if check is not None:
                await check()
            await asyncio.sleep(0.2)

    def free(self):
        self.path.unlink()


def storage_podship(tmp_path, sim, state_dir):
    """The real process with every option at its shipped default, and /status on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    podship = Podship(tmp_path, sim, state_dir=str(state_dir), http_listen=f"127.0.0.1:{port}")
    document = yaml.safe_load(podship.config.read_text())
    for option in ("checkpoint_interval", "batch_size", "grace_period"):  # the suite's own, not ours
        del document["service"][option]
    podship.config.write_text(yaml.safe_dump(document, sort_keys=False))
    podship.port = port
    return podship


async def get(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data.partition(b"\r\n\r\n")[2].decode()


async def storage_blocked(podship):
    """What /status and /metrics say about state writes: (blocked, gauge value)."""
    status = json.loads(await get(podship.port, "/status"))
    gauge = re.search(r"^podship_storage_blocked (\S+)$", await get(podship.port, "/metrics"), re.M)
    assert gauge is not None, "podship_storage_blocked is missing from /metrics"
    return status["storage"]["blocked"], float(gauge.group(1))


async def simulator_for(simulator, seed):
    line = timeline(seed=seed, rate=4.0)
    start = line.epoch_ms + 3 * HOUR_MS
    faults = Faults(bad_every=2000)  # dead letters go to the same disk
    sim = await simulator(
        timeline=line, start_ms=start, release_secs=0.05, faults=faults, tokens={KEY: "acme_hosted"}
    )
    return line, start, sim


async def finish(podship, ledger, scene, name, kills=0):
    """Two hours later every hole's hours are complete in the archive: all must be out."""
    line, start, sim = scene
    sim.clock.advance(2 * HOUR_MS)
    covered = expected(line, start - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    await wait_for(lambda: covered <= set(ledger.read()), 180, "every event out", podship.stderr)
    assert await storage_blocked(podship) == (False, 0.0)
    assert await podship.terminate() == 0
    log = podship.stderr.read_text()
    missing, twice = ledger.verdict(name, covered, kills=kills, errors=log.count(" ERROR "))
    assert not missing
    assert sum(n - 1 for n in twice.values()) <= kills * SHIPPED_BATCH
    assert "Traceback" not in log
    return log


async def test_a_full_disk_holds_the_backfill_and_it_resumes_when_room_comes(simulator, tmp_path, small_fs):
    line, start, sim = await simulator_for(simulator, seed=61)
    podship = storage_podship(tmp_path, sim, small_fs / "state")
    ledger, filler = FileLedger(podship.stdout), Filler(small_fs)
    await podship.start()
    await wait_for(lambda: len(ledger.read()) > 3000, 60, "the backfill under way", podship.stderr)
    seen = []

    async def held():
        if not seen or time.monotonic() - seen[-1][0] > 5:
            seen.append((time.monotonic(), len(ledger.read()), *await storage_blocked(podship)))

    await filler.hold(FULL_SECS, held)
    assert podship.process.returncode is None, "podship stopped on a full disk"
    assert all(blocked and gauge == 1.0 for _, _, blocked, gauge in seen[1:]), seen
    assert seen[-1][1] - seen[1][1] <= SHIPPED_BATCH, (
        f"records went on while state could not be written: {seen}"
    )
    filler.free()
    log = await finish(podship, ledger, (line, start, sim), "disk full 30 s")
    said = re.findall(
        r"ERROR \[(\S+)\] podship.storage: cannot write .*No space left on device \(ENOSPC\)", log
    )
    assert said and len(said) == len(set(said)), log  # once per connector: 30 s is less than the minute
    assert "state written again after" in log


async def test_kill_9_while_the_disk_is_full_and_a_restart_while_still_full(simulator, tmp_path, small_fs):
    line, start, sim = await simulator_for(simulator, seed=62)
    podship = storage_podship(tmp_path, sim, small_fs / "state")
    ledger, filler = FileLedger(podship.stdout), Filler(small_fs)
    await podship.start()
    await wait_for(lambda: len(ledger.read()) > 3000, 60, "the backfill under way", podship.stderr)
    filler.top_up()
    await wait_for(lambda: "podship.storage" in podship.stderr.read_text(), 30, "the fault said")
    await podship.kill()
    await podship.start()  # the disk is still full: it starts, and holds
    await filler.hold(FULL_SECS / 2)
    assert podship.process.returncode is None, "podship stopped on a full disk"
    assert await storage_blocked(podship) == (True, 1.0)
    filler.free()
    await finish(podship, ledger, (line, start, sim), "kill -9 while full", kills=1)


async def test_a_journal_cut_mid_line_is_dropped_on_load_and_cut_off(simulator, tmp_path):
    line, start, sim = await simulator_for(simulator, seed=63)
    podship = storage_podship(tmp_path, sim, tmp_path / "state")
    ledger = FileLedger(podship.stdout)
    journal = tmp_path / "state" / "acme-maillog" / "seen.log"
    await podship.start()
    # Both types under way, and maillog's ids journaled: 3,000 records can all be message events
    # (the connectors deliver independently), and a journal is written once ids are delivered.
    await wait_for(
        lambda: len(ledger.read()) > 3000 and journal.exists() and journal.stat().st_size > 9,
        60,
        "the backfill under way, maillog's ids journaled",
        podship.stderr,
    )
    await podship.kill()
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) - 9])  # the last line loses its end, as a torn write does
    await podship.start()
    await finish(podship, ledger, (line, start, sim), "journal cut mid-line", kills=1)
    for path in (tmp_path / "state").glob("*/seen.log"):
        assert all(re.fullmatch(rb"-?\d+ \S+", row) for row in path.read_bytes().split(b"\n")[:-1]), path
        assert path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("fault", ["EIO", "EROFS"])
async def test_io_errors_and_a_read_only_disk_hold_and_resume(simulator, tmp_path, monkeypatch, fault):
    """Through the test hook: the one writer of state fails with `fault` while the file exists."""
    hook = tmp_path / "fault"
    monkeypatch.setenv(FAULT_HOOK, str(hook))  # the child process inherits it
    line, start, sim = await simulator_for(simulator, seed=64)
    podship = storage_podship(tmp_path, sim, tmp_path / "state")
    ledger = FileLedger(podship.stdout)
    await podship.start()
    await wait_for(lambda: len(ledger.read()) > 3000, 60, "the backfill under way", podship.stderr)
    hook.write_text(fault)
    await wait_for(lambda: f"({fault})" in podship.stderr.read_text(), 30, "the fault said", podship.stderr)
    await asyncio.sleep(5)
    assert await storage_blocked(podship) == (True, 1.0)
    hook.unlink()
    log = await finish(podship, ledger, (line, start, sim), f"{fault} for 5 s")
    assert log.count(f"({fault})") <= len(KINDS)
