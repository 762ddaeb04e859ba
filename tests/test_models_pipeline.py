"""Record models through the real `podship run`: one pipeline, two outputs, two models."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest

from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from tests.forward_peer import ForwardPeer
from tests.helpers import write_pipeline
from tests.models_support import ocsf_errors
from tests.pipes import connector, run_podship

KEY = "pod-key-for-the-record-model-test-51c2"
LINE = Timeline(seed=21, rates={"message": 0.5, "maillog": 1.0, "audit": 0.05})
S0 = LINE.epoch_ms + 10 * HOUR_MS
KINDS = ("message", "maillog", "audit")


def lines(path):
    data = path.read_bytes() if path.exists() else b""
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


async def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def test_fan_out_sends_ocsf_to_stdout_and_ecs_to_forward_from_one_pipeline(simulator, tmp_path):
    sim = await simulator(timeline=LINE, start_ms=S0, tokens={KEY: "acme_hosted"})
    peer = await ForwardPeer().start()
    outputs = [
        {"name": "stdout", "schema": "ocsf"},
        {
            "name": "forward",
            "host": "127.0.0.1",
            "port": peer.port,
            "schema": "ecs",
            "schema_original": "none",
        },
    ]
    inputs = [connector(sim, kind, backfill="2h") for kind in KINDS]
    path = write_pipeline(
        tmp_path / "podship.yaml", inputs, service={"state_dir": str(tmp_path / "state")}, outputs=outputs
    )
    expected = {event_id for kind in KINDS for event_id in LINE.ids(kind, S0 - 2 * HOUR_MS, S0 - HOUR_MS)}
    stdout = tmp_path / "out.ndjson"
    with stdout.open("ab") as out, (tmp_path / "err.log").open("ab") as err:
        process = await run_podship(path, KEY, out, err)
    try:
        await wait_for(
            lambda: expected <= {r["metadata"]["uid"] for r in lines(stdout)}, 180, "OCSF on stdout"
        )
        await wait_for(
            lambda: expected <= {r["event"]["id"] for _, _, r in peer.records}, 60, "ECS on forward"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        await peer.stop()

    ocsf = [r for r in lines(stdout) if r["metadata"]["uid"] in expected]
    assert {r["class_uid"] for r in ocsf} == {4009, 3002, 3004}
    assert [r["metadata"]["uid"] for r in ocsf if ocsf_errors(r)] == []
    assert all(json.loads(r["raw_data"])["ts"] for r in ocsf), "schema_original defaults to raw_data"
    ecs = [(tag, r) for tag, _, r in peer.records if r["event"]["id"] in expected]
    assert {tag for tag, _ in ecs} == {"pod.message", "pod.maillog", "pod.audit"}, (
        "tags from the syslog-index record"
    )
    assert {r["event"]["dataset"] for _, r in ecs} == {
        "proofpoint_on_demand.message",
        "proofpoint_on_demand.mail",
        "proofpoint_on_demand.audit",
    }
    assert all(r["ecs"]["version"] == "8.11.0" and "original" not in r["event"] for _, r in ecs)
    assert not any("msg_class" in r for r in ocsf) and not any("msg_class" in r for _, r in ecs)


def _checked(tmp_path, outputs):
    """`podship check` of a pipeline with these outputs, as a user runs it: refused in one line."""
    inputs = [{"name": "proofpoint_pod", "tenant": "acme", "cluster_id": "c", "api_key": "${POD_API_KEY}"}]
    path = write_pipeline(tmp_path / "p.yaml", inputs, outputs=outputs)
    result = subprocess.run(
        [sys.executable, "-m", "podship", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        env={"POD_API_KEY": "k", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    return path, result


@pytest.mark.parametrize("output", ["stdout", "forward", "syslog"])
@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("schema", "nosuch", "syslog_index, ocsf, ecs"),
        ("schema_original", "body", "raw_data, unmapped, none"),
    ],
)
def test_a_wrong_schema_is_one_line_naming_file_plugin_and_option(tmp_path, output, option, value, allowed):
    path, result = _checked(tmp_path, [{"name": output, option: value}])
    assert str(path) in result.stderr
    assert f"plugin '{output}': option '{option}': expected one of {allowed}, got '{value}'" in result.stderr


def test_syslog_keeps_its_header_from_the_record_and_carries_the_model_in_msg():
    from podship.core import encode_syslog as syslog
    from podship.core import records
    from podship.core.models import renderer
    from tests.models_support import event_of, fixture_events

    event = event_of(fixture_events("message")[1], "message")
    record, ocsf = records.view(event), renderer("ocsf", "raw_data")(event)
    data = syslog.message(record, syslog.Layout(), 7, 0, ocsf)
    head, _, body = data.partition(b"] ")  # structured data ends at the first "] "
    assert head.startswith(b"<134>1 2024-03-07T16:34:49.929Z m0000123.ppops.net podship 7 message ")
    assert b'event_id="81Of8J5YghkL1r--abcdefghijk-OBCFg7u"' in data
    assert json.loads(body)["class_uid"] == 4009
    short = syslog.message(record, syslog.Layout(), 7, 4000, ocsf)
    slim = json.loads(short.partition(b"] ")[2])
    assert len(short) <= 4000 and len(data) > 4000
    assert "raw_data" not in slim and slim["metadata"]["is_truncated"] is True
    assert ocsf_errors(slim) == []


async def test_input_original_event_none_still_gives_ocsf_its_event_and_says_it_is_deprecated(
    simulator, tmp_path
):
    """main: `original_event: none` made every OCSF record lack the required `email`, silently. Now
    the event travels to every output, and only the syslog-index output leaves it out."""
    sim = await simulator(timeline=LINE, start_ms=S0, tokens={KEY: "acme_hosted"})
    peer = await ForwardPeer().start()
    outputs = [
        {"name": "stdout", "schema": "ocsf"},
        {"name": "forward", "host": "127.0.0.1", "port": peer.port},
    ]
    inputs = [connector(sim, kind, backfill="2h", original_event="none") for kind in ("message", "maillog")]
    path = write_pipeline(
        tmp_path / "podship.yaml", inputs, service={"state_dir": str(tmp_path / "state")}, outputs=outputs
    )
    kinds = ("message", "maillog")
    expected = {event_id for kind in kinds for event_id in LINE.ids(kind, S0 - 2 * HOUR_MS, S0 - HOUR_MS)}
    stdout, stderr = tmp_path / "out.ndjson", tmp_path / "err.log"
    with stdout.open("ab") as out, stderr.open("ab") as err:
        process = await run_podship(path, KEY, out, err)
    try:
        await wait_for(lambda: expected <= {r["metadata"]["uid"] for r in lines(stdout)}, 180, "OCSF")
        await wait_for(lambda: expected <= {r["event_id"] for _, _, r in peer.records}, 60, "records")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
        await peer.stop()
    ocsf = [r for r in lines(stdout) if r["metadata"]["uid"] in expected]
    assert [r["metadata"]["uid"] for r in ocsf if ocsf_errors(r) or "@" not in json.dumps(r["email"])] == []
    assert not any("proofpoint_on_demand" in r for _, _, r in peer.records)
    warned = [line for line in stderr.read_text().splitlines() if "original_event is deprecated" in line]
    assert len(warned) == 2 and "write `original: none` on the outputs" in warned[0]


_STDOUT = "plugin 'stdout': option 'original': schema"
_MIXED = (
    "plugin 'outputs': option 'original': one syslog_index output wants the original raw and another compact"
)


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        (
            [{"name": "stdout", "schema": "ocsf", "original": "compact"}],
            f"{_STDOUT} ocsf keeps the original as raw_data, unmapped, none, not 'compact'",
        ),
        (
            [{"name": "stdout", "original": "unmapped"}],
            f"{_STDOUT} syslog_index keeps the original as compact, raw, none, not 'unmapped'",
        ),
        ([{"name": "stdout", "original": "raw"}, {"name": "forward", "port": 24224}], _MIXED),
    ],
)
def test_an_original_the_model_cannot_keep_is_one_line_naming_file_plugin_and_option(
    tmp_path, outputs, problem
):
    path, result = _checked(tmp_path, outputs)
    assert str(path) in result.stderr and problem in result.stderr
