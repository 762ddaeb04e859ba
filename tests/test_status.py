"""The status and metrics endpoint, read while a backfill runs, and the status log line."""

import asyncio
import errno
import json
import logging
import re
import sys

import podship
from podship.core.connector import Stats
from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from podship.engine import metrics, status
from podship.errors import StorageError
from podship.runtime.plugin import InputStatus
from podship.runtime.storage import StorageWatch
from tests.pipes import build, connector, run_podship

LINE = Timeline(rates={"message": 2.0, "maillog": 4.0, "audit": 0.1})


async def get(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body.decode()


async def test_status_and_metrics_while_a_backfill_runs(simulator, tmp_path):
    sim = await simulator(timeline=LINE, start_ms=LINE.epoch_ms + 5 * HOUR_MS)
    pipeline, out = build(
        tmp_path,
        [connector(sim, kind, backfill="4h") for kind in ("message", "maillog")],
        http_listen="127.0.0.1:0",
    )
    task = asyncio.create_task(pipeline.run())
    seen_modes, seen_states = set(), set()
    for _ in range(200):
        await asyncio.sleep(0.05)
        if pipeline.status_port and pipeline.records_out:
            line, body = await get(pipeline.status_port, "/status")
            seen_modes |= {state["mode"] for state in json.loads(body)["connectors"].values()}
            seen_states |= {state["state"] for state in json.loads(body)["connectors"].values()}
            if "backfill" in seen_modes:
                break
    line, body = await get(pipeline.status_port, "/status")
    metrics_line, metrics = await get(pipeline.status_port, "/metrics")
    missing_line, _ = await get(pipeline.status_port, "/nope")
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert line == "HTTP/1.1 200 OK"
    assert "backfill" in seen_modes
    # The core's state beside the mode: archive windows open, or waiting between two of them.
    assert seen_states & {"archive", "waiting"} and seen_states <= {"starting", "waiting", "live", "archive"}
    state = json.loads(body)["connectors"]["acme-message"]
    assert state["type"] == "message"
    assert state["events"] >= state["delivered"] > 0
    assert state["last_event_time"].startswith("2026-11-01T0")
    assert "last_activity" in state and "holes" in state
    assert metrics_line == "HTTP/1.1 200 OK"
    assert "# TYPE podship_events_total counter" in metrics
    assert 'podship_delivered_total{connector="acme-maillog"} ' in metrics
    assert 'podship_output_sent_total{output="stdout"} ' in metrics
    assert 'podship_holes{connector="acme-message"} ' in metrics
    assert 'podship_archive_hour_overdue{connector="acme-message"} ' in metrics
    # The lag is measured on the server's clock: the simulator's is a month behind the host's.
    assert state["lag_secs"] < 6 * 3600, state["lag_secs"]
    assert state["archive_hours_awaited"] >= 0
    # Overdue hours are awaited hours the archive holds whole (a first start's backfill has them at once).
    assert state["archive_hours_overdue"] <= state["archive_hours_awaited"]
    assert isinstance(state["open_holes"], list)
    assert missing_line == "HTTP/1.1 404 Not Found"


def test_the_status_log_line_and_the_metrics_format():
    class Source:
        name, kind, failure = "acme-message", "message", None
        stats = Stats(events=5, delivered=4, duplicates=1, reconnects=2, archive_windows=1, mode="live")

        @classmethod
        def status(cls):
            return InputStatus(cls.stats.mode, cls.stats, 0)

    class Pipeline:
        inputs, records_out, dropped = [Source], 4, 1
        queue = asyncio.Queue()
        delivery = {"forward": {"sent": 4, "retried": 2, "failed": 0, "dead_letters": 1}}  # noqa: RUF012
        storage = StorageWatch()

    snap = status.snapshot(Pipeline)
    assert status.summary(snap) == "status: acme-message live in=5 out=4 lag=-s"
    reported = snap["connectors"]["acme-message"]
    assert list(reported)[:4] == ["type", "mode", "state", "events"] and reported["state"] == "starting"
    lines = metrics.exposition(Pipeline, status.snapshot).decode().splitlines()
    assert 'podship_reconnects_total{connector="acme-message"} 2.0' in lines
    assert "podship_dropped_by_rules_total 1.0" in lines
    assert 'podship_mode{connector="acme-message",mode="live"} 1.0' in lines
    assert 'podship_mode{connector="acme-message",mode="backfill"} 0.0' in lines
    assert 'podship_output_retried_total{output="forward"} 2.0' in lines
    assert 'podship_output_dead_letters_total{output="forward"} 1.0' in lines
    assert "podship_queue_depth 0.0" in lines
    for family in (
        "reconnects",
        "mode",
        "output_sent",
        "queue_depth",
        "lag_seconds",
        "build_info",
        "storage_blocked",
    ):
        assert any(line.startswith(f"# HELP podship_{family}") for line in lines), family
        assert any(line.startswith(f"# TYPE podship_{family}") for line in lines), family
    python = ".".join(str(part) for part in sys.version_info[:3])
    assert f'podship_build_info{{python="{python}",version="{podship.__version__}"}} 1.0' in lines
    # The process collector reads this process's /proc entry (Linux, where podship runs and CI does).
    (rss,) = [line for line in lines if line.startswith("process_resident_memory_bytes ")]
    assert float(rss.split()[1]) > 1_000_000
    assert "podship_storage_blocked 0.0" in lines
    full = OSError(errno.ENOSPC, "No space left on device")
    Pipeline.storage.failed("acme-message", StorageError("/state/acme-message/seen.log", full), 0.0)
    snap = status.snapshot(Pipeline)
    assert snap["storage"]["blocked"] and "(ENOSPC)" in snap["storage"]["failing"]["acme-message"]["error"]
    assert status.summary(snap).endswith("; HELD: state writes fail for acme-message")
    assert (
        "podship_storage_blocked 1.0" in metrics.exposition(Pipeline, status.snapshot).decode().splitlines()
    )


async def test_the_status_is_logged_periodically(simulator, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="podship.status")
    sim = await simulator(timeline=LINE, start_ms=LINE.epoch_ms + 3 * HOUR_MS)
    pipeline, out = build(tmp_path, [connector(sim, "message", backfill="0s")], status_interval="0.2s")
    task = asyncio.create_task(pipeline.run())
    await asyncio.sleep(0.7)
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert "status: acme-message " in caplog.text


async def test_json_log_lines_name_the_connector_and_report_backfill_progress(simulator, tmp_path):
    import signal

    from tests.helpers import write_pipeline

    sim = await simulator(
        timeline=LINE, start_ms=LINE.epoch_ms + 5 * HOUR_MS, tokens={"pod-key-json": "acme_hosted"}
    )
    path = write_pipeline(
        tmp_path / "p.yaml",
        [connector(sim, "message", backfill="4h")],
        service={"state_dir": str(tmp_path / "state"), "log_format": "json", "log_level": "info"},
    )
    with (tmp_path / "err.log").open("wb") as err:
        process = await run_podship(path, "pod-key-json", asyncio.subprocess.DEVNULL, err)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if re.search(r"archive hours? done, \d+ to go", (tmp_path / "err.log").read_text()):
                break
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    entries = [json.loads(line) for line in (tmp_path / "err.log").read_text().splitlines()]
    progress = [e for e in entries if re.search(r"archive hours? done, \d+ to go", e["message"])]
    assert progress and progress[0]["connector"] == "acme-message"
    assert progress[0]["level"] == "info"
    # After the first window the server completed, its measured cost gives the time left.
    assert re.match(
        r"backfill: 1 archive hour done, \d+ to go, \d+ events/s, about \d+s left", progress[0]["message"]
    )
    assert "pod-key-json" not in (tmp_path / "err.log").read_text()


async def test_podship_status_needs_no_api_key(simulator, tmp_path):
    import os
    import socket
    import sys

    from tests.helpers import write_pipeline

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen = f"127.0.0.1:{probe.getsockname()[1]}"
    sim = await simulator(timeline=LINE, start_ms=LINE.epoch_ms + 3 * HOUR_MS)
    pipeline, out = build(tmp_path, [connector(sim, "message", backfill="0s")], http_listen=listen)
    path = write_pipeline(tmp_path / "p.yaml", [connector(sim, "message")], service={"http_listen": listen})
    task = asyncio.create_task(pipeline.run())
    try:
        for _ in range(200):
            if pipeline.status_port:
                break
            await asyncio.sleep(0.05)
        env = {key: value for key, value in os.environ.items() if key != "POD_API_KEY"}
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "podship", "status", "-c", str(path)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        pipeline.stop.set()
        await task
        out.close()
    assert process.returncode == 0, stderr.decode()
    assert "acme-message" in json.loads(stdout)["connectors"]
    assert stdout.endswith(b"}\n"), "one line, ended: the shell prompt starts a line of its own"
