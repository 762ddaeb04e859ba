"""The command line as a user meets it."""

import json
import subprocess
import sys


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
    assert "archive hours backfilled, then live" in summary
    assert " 0 archive hours" not in summary


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
    assert podship("options", "nope").returncode == 2
    assert podship("--version").stdout.decode().startswith("podship 0.1.0")
