"""The command line as a user meets it."""

import json
import re
import subprocess
import sys
import time


def podship(*args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "podship", *args], capture_output=True, timeout=timeout, check=False
    )


def test_demo_backfills_then_streams_live_records_on_stdout_and_ends_by_itself(record_validator):
    result = podship("demo", "--seconds", "4")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) > 500
    for record in records[::50]:
        record_validator.validate(record)
    assert {record["event_type"] for record in records} == {"message", "maillog", "audit"}
    assert len({record["event_id"] for record in records}) == len(records)
    summary = result.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith(f"podship demo: {len(records)} records in ")
    assert re.search(r"; [1-9]\d* archive hours? backfilled, then live; ", summary), summary


def test_demo_stops_after_a_number_of_events_and_drains_what_it_received():
    result = podship("demo", "--events", "50", "--seconds", "30")
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) >= 50
    assert len({record["event_id"] for record in records}) == len(records)
    assert f"podship demo: {len(records)} records in " in result.stderr.decode()


def test_options_lists_every_plugin_and_version_prints():
    listing = podship("options").stdout.decode()
    assert "proofpoint_pod (input)" in listing
    assert "stdout (output)" in listing
    unknown = podship("options", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.decode() == (
        "podship options: no plugin named 'nope'; the plugins: "
        "service, proofpoint_pod, forward, log_filter, stdout, syslog\n"
    )
    syslog = podship("options", "syslog").stdout.decode().splitlines()
    mode = syslog.index(next(line for line in syslog if line.strip().startswith("mode ")))
    assert syslog[mode + 1].strip() == "one of: udp / tcp / tls", "an enum shows its values"
    assert podship("--version").stdout.decode().startswith("podship 0.1.0")


def test_demo_rejects_nonsense_counts():
    for option, value in (("--seconds", "0"), ("--seconds", "-1"), ("--events", "0"), ("--events", "x")):
        result = podship("demo", option, value)
        assert result.returncode == 2, (option, value)
        assert f"argument {option}:" in result.stderr.decode()


def test_demo_counts_stay_true_when_the_reader_closes_the_pipe():
    with subprocess.Popen(
        [sys.executable, "-m", "podship", "demo", "--seconds", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as child:
        first = child.stdout.readline()
        child.stdout.close()
        closed = time.monotonic()
        _, err = child.communicate(timeout=60)
        took = time.monotonic() - closed
    assert json.loads(first)["event_id"]
    assert child.returncode == 0
    assert took < 5, f"`podship demo | head -1` took {took:.1f}s to end after the reader left"
    assert "WARNING" not in err.decode() and "ERROR" not in err.decode(), err.decode()
    summary = err.decode().strip().splitlines()[-1]
    assert summary.endswith("then the reader closed the pipe"), summary
    count = int(summary.split()[2])
    per_type = summary.split("(", 1)[1].split(")", 1)[0]
    assert sum(int(part.split()[1]) for part in per_type.split(", ")) == count >= 1


def test_demo_on_a_terminal_shows_a_few_records_and_a_count():
    import os
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "podship", "demo", "--seconds", "3"],
        stdout=follower,
        stderr=subprocess.PIPE,
    ) as child:
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the child
                break
            if not chunk:
                break
            screen += chunk
        child.wait(timeout=60)
    os.close(leader)
    text = screen.decode()
    assert child.returncode == 0
    assert text.count('\n  "event_id": ') == 3, "three records pretty-printed"
    assert "proofpoint_on_demand" in text and '"proofpoint_on_demand": {' not in text
    count = int(text.rstrip().rsplit("\r", 1)[-1].split()[0])
    assert count > 500
    assert len(screen) < 20_000, "not megabytes of JSON"


def test_the_shipped_pipeline_serves_its_status_for_podship_status():
    from pathlib import Path

    from podship.engine import config

    path = Path(__file__).resolve().parent.parent / "configs" / "podship.yaml"
    assert config.load_service(str(path)).http_listen == "127.0.0.1:2021"
