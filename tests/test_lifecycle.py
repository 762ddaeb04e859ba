"""A process that says what it does: life-cycle lines at info, repeated failures at warning, and
times in UTC with their zone, in text and JSON."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import time

from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from tests.helpers import write_pipeline
from tests.pipes import connector, run_podship

KEY = "pod-key-for-the-lifecycle-test-90af"
LINE = Timeline(seed=3, rates={"message": 1.0, "maillog": 1.0, "audit": 0.0001}, big_every=0)
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


async def wait_for_text(path, text, timeout, offset):
    deadline = time.monotonic() + timeout

    def written():  # a line may be half-written: decode what is there, never raise on it
        return path.read_bytes()[offset:].decode(errors="replace") if path.exists() else ""

    while text not in written():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {text!r} in:\n{written()}")
        await asyncio.sleep(0.1)


async def run_and_stop(path, err_path, until_text):
    offset = err_path.stat().st_size if err_path.exists() else 0
    with err_path.open("ab") as err:
        process = await run_podship(path, KEY, asyncio.subprocess.DEVNULL, err)
        try:
            await wait_for_text(err_path, until_text, 60, offset)
            process.send_signal(signal.SIGTERM)
            return await asyncio.wait_for(process.wait(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_the_life_cycle_is_told_at_info_with_utc_times(simulator, tmp_path):
    sim = await simulator(
        timeline=LINE, start_ms=LINE.epoch_ms + 5 * HOUR_MS, tokens={KEY: "acme_hosted"}, release_secs=0.1
    )
    path = write_pipeline(tmp_path / "p.yaml", [connector(sim, "message", backfill="2h")])
    err_path = tmp_path / "err.log"
    assert await run_and_stop(path, err_path, "when an archive repair is due") == 0
    first = err_path.read_text()
    assert await run_and_stop(path, err_path, "live session open") == 0
    second = err_path.read_text()[len(first) :]
    lines = first.splitlines() + second.splitlines()
    assert all(UTC.match(line) for line in lines), lines
    state = tmp_path / "state"
    assert (
        f"INFO [-] podship.status: starting: inputs acme-message (message); outputs stdout; state in {state}"
        in first
    )
    assert "INFO [acme-message] podship.input: first start: backfilling 2h, from " in first
    assert "live session open, closing it for a repair" in first
    assert "live session closed: an archive repair is due" in first
    assert "fetching the archive from " in first
    assert "live session closed: stopping" in first
    assert re.search(r"stopped \(exit 0\): \d+ records? delivered; nothing in flight", first)
    assert "INFO [acme-message] podship.input: resumed from the checkpoint: delivered up to " in second
    assert KEY not in first + second


async def test_repeated_connect_failures_rise_to_warning_and_json_lines_carry_utc(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    entry = {
        "name": "proofpoint_pod",
        "tenant": "acme",
        "cluster_id": "acme_hosted",
        "api_key": "${POD_API_KEY}",
        "url": f"ws://127.0.0.1:{port}/v1/stream",
    }
    service = {"state_dir": str(tmp_path / "state"), "log_level": "warning", "log_format": "json"}
    path = write_pipeline(tmp_path / "p.yaml", [entry], service=service)
    err_path = tmp_path / "err.log"
    assert await run_and_stop(path, err_path, "failures in a row") == 0
    entries = [json.loads(line) for line in err_path.read_text().splitlines()]
    warning = next(entry for entry in entries if "failures in a row" in entry["message"])
    assert warning["level"] == "warning"
    assert warning["connector"] == "acme-message"
    assert f"cannot connect to 127.0.0.1:{port}" in warning["message"]
    assert "(3 failures in a row); reconnecting in " in warning["message"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]) for entry in entries)
    assert not [entry for entry in entries if entry["level"] == "info"], "log_level warning hides info"


async def test_a_reader_that_closes_stdout_ends_run_at_once_quietly_with_the_true_count(simulator, tmp_path):
    """`podship run | head -1` during a backfill: the inputs are blocked on a full queue, and the
    process still ends at once (not after the 10 s grace period), exit 0, no warning or error."""
    sim = await simulator(
        timeline=LINE, start_ms=LINE.epoch_ms + 5 * HOUR_MS, tokens={KEY: "acme_hosted"}, release_secs=0.1
    )
    path = write_pipeline(
        tmp_path / "p.yaml", [connector(sim, kind, backfill="3h") for kind in ("message", "maillog")]
    )
    reader, writer = os.pipe()
    with (tmp_path / "err.log").open("wb") as err:
        process = await run_podship(path, KEY, writer, err)
    os.close(writer)
    try:
        first = await asyncio.to_thread(os.read, reader, 65536)
        await asyncio.sleep(1)  # the backfill fills the pipe and the queue behind it
        os.close(reader)
        closed = time.monotonic()
        code = await asyncio.wait_for(process.wait(), 30)
        took = time.monotonic() - closed
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = (tmp_path / "err.log").read_text()
    assert json.loads(first.split(b"\n", 1)[0])["event_id"]
    assert code == 0, log
    assert took < 5, f"{took:.1f}s to end after the reader closed stdout"
    assert " WARNING " not in log and " ERROR " not in log, log
    assert "the reader closed stdout: stopping" in log
    delivered = int(re.search(r"stopped \(exit 0\): (\d+) records? delivered", log).group(1))
    assert delivered >= first.count(b"\n") >= 1, "at least the records the reader got are counted"


async def test_after_a_restart_archive_windows_are_a_repair_and_counts_read_as_sentences(simulator, tmp_path):
    sim = await simulator(
        timeline=LINE, start_ms=LINE.epoch_ms + 5 * HOUR_MS, tokens={KEY: "acme_hosted"}, release_secs=0.1
    )
    path = write_pipeline(tmp_path / "p.yaml", [connector(sim, "message", backfill="3h")])
    err_path = tmp_path / "err.log"
    assert await run_and_stop(path, err_path, "backfill: ") == 0
    first = err_path.read_text()
    sim.clock.advance(3 * HOUR_MS)  # an outage longer than the live resume point: a hole to repair
    assert await run_and_stop(path, err_path, "repair: ") == 0
    second = err_path.read_text()[len(first) :]
    assert re.search(
        r"resumed from the checkpoint: delivered up to \S+; 1 hole to repair|\d+ holes to", second
    )
    assert "backfill: " not in second
    progress = [line for line in (first + second).splitlines() if re.search(r"(backfill|repair): ", line)]
    for line in progress:
        assert not re.search(r"\b1 archive hours\b|\b1 holes\b", line), line
        assert re.search(r"(backfill|repair): (\[[#.]+\] )?\d+ archive hours? done", line), line
