"""Bad input: random and mutated frames at the decoder and normaliser, and hostile configs.

No frame raises out of the core except our own record errors (ValueError from the identity check),
and every bad frame the input meets lands in the dead-letter file with a reason while the stream
goes on. Every hostile config is one clear line naming file, plugin and option, and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podship.core.encode_json import dumps
from podship.core.pod import decode_frame, event_identity
from podship.core.records import ORIGINALS
from podship.devtools.simgen import Timeline
from podship.engine.registry import all_tables
from podship.inputs.proofpoint import OPTIONS, ProofpointInput
from tests.helpers import normalise, options, write_pipeline

LINE = Timeline(seed=3)
REAL = [
    json.dumps(LINE.event(kind, k)).encode() for kind in ("message", "maillog", "audit") for k in range(5)
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated(draw):
    """A real frame with bytes flipped, cut, or a field replaced by any JSON value."""
    frame = bytearray(draw(st.sampled_from(REAL)))
    how = draw(st.sampled_from(["flip", "cut", "field"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            frame[draw(st.integers(0, len(frame) - 1))] = draw(st.integers(0, 255))
    elif how == "cut":
        frame = frame[: draw(st.integers(0, len(frame)))]
    else:
        event = json.loads(frame)
        key = draw(st.sampled_from(sorted(event)))
        event[key] = draw(json_values)
        frame = bytearray(json.dumps(event).encode())
    return bytes(frame)


def through_the_core(data, kind, original="compact"):
    frame = decode_frame(data, 1 << 20)
    if frame.head is None:
        return frame.reason
    try:
        event_id, ts = event_identity(frame.head, kind)
    except ValueError as exc:  # our own record error: the input dead-letters it
        return str(exc)
    context = {"tenant_name": "t", "connector": "c", "original": original}
    return normalise(frame.event, kind, event_id, ts, context, text=frame.text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=300) | mutated(),
    st.sampled_from(["message", "maillog", "audit"]),
    st.sampled_from(ORIGINALS),
)
def test_no_frame_raises_out_of_the_core(data, kind, original):
    outcome = through_the_core(data, kind, original)
    assert isinstance(outcome, str | dict)
    if isinstance(outcome, dict):
        line = dumps(outcome)  # whatever came in, the record's line is one line of JSON
        assert b"\n" not in line and isinstance(json.loads(line), dict)


async def test_every_bad_frame_is_dead_lettered_with_a_reason(tmp_path):
    values = options(
        OPTIONS,
        alias="fuzz",
        type="message",
        tenant="t",
        cluster_id="c",
        api_key="k",
        max_frame_bytes=1 << 20,
        backfill="1h",
    )
    emitted = []

    async def emit(item):
        emitted.append(item)

    source = ProofpointInput(values, tmp_path, emit)
    source.core.opened_live(source.load(LINE.epoch_ms), LINE.epoch_ms)  # frames arrive in a session
    frames = [
        b"",
        b"\xff\xfe",
        b"[1,2]",
        b'{"no":"id"}',
        b"{bad json",
        REAL[0],
        b'{"guid":"x","ts":true}',
        REAL[1],
    ]
    for data in frames:
        await source._accept(data)
    letters = [json.loads(line) for line in (tmp_path / "fuzz" / "deadletter.jsonl").read_text().splitlines()]
    print(f"[fuzz] {len(frames)} frames: {len(emitted)} records, {len(letters)} dead letters, 1 empty")
    assert len(emitted) == 2 and source.stats.empty_frames == 1
    assert len(letters) == source.stats.dead_letters == 5
    assert all(letter["reason"] for letter in letters)


def connector(**overrides):
    entry = {
        "name": "proofpoint_pod",
        "cluster_id": "acme_hosted",
        "api_key": "${POD_API_KEY}",
        "type": "message",
    }
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


HOSTILE = [
    ({"inputs": [connector(backfill="99999999d")]}, "proofpoint_pod", "backfill"),
    ({"inputs": [connector(max_frame_bytes="-5MiB")]}, "proofpoint_pod", "max_frame_bytes"),
    ({"inputs": [connector(keepalive_interval=1e308)]}, "proofpoint_pod", "keepalive_interval"),
    ({"inputs": [connector(type="firewall")]}, "proofpoint_pod", "type"),
    ({"inputs": [{"name": "imap"}]}, "imap", ""),
    ({"inputs": [connector(alias="connecteur-é")]}, "proofpoint_pod", "alias"),
    (
        {"inputs": [connector(api_key=None, api_key_file="/nonexistent/pod.key")]},
        "proofpoint_pod",
        "api_key_file",
    ),
    ({"inputs": [connector()], "outputs": [{"name": "syslog", "port": 70000}]}, "syslog", "port"),
    (
        {"inputs": [connector()], "outputs": [{"name": "forward", "max_frame_bytes": 10**30}]},
        "forward",
        "max_frame_bytes",
    ),
    ({"inputs": [connector()], "service": {"batch_size": -1}}, "service", "batch_size"),
]


@pytest.mark.parametrize(("pipeline", "plugin", "option"), HOSTILE)
def test_hostile_configs_exit_2_naming_file_plugin_and_option(tmp_path, pipeline, plugin, option):
    path = write_pipeline(
        tmp_path / "p.yaml",
        pipeline["inputs"],
        outputs=pipeline.get("outputs"),
        service=pipeline.get("service"),
    )
    result = _check(path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert f"'{plugin}'" in result.stderr or plugin == "service"
    assert f"option '{option}'" in result.stderr or not option


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_an_unreadable_state_directory_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    path = write_pipeline(tmp_path / "p.yaml", [connector()], service={"state_dir": str(locked)})
    result = _check(path, "run")
    assert result.returncode == 2 and "state_dir" in result.stderr


def test_a_state_directory_that_is_a_file_exits_2(tmp_path):
    (tmp_path / "occupied").write_text("not a directory")
    path = write_pipeline(
        tmp_path / "p.yaml", [connector()], service={"state_dir": str(tmp_path / "occupied")}
    )
    result = _check(path, "run")
    assert result.returncode == 2, result.stderr
    assert "state_dir" in result.stderr and str(path) in result.stderr


def _check(path, command="check"):
    env = {"POD_API_KEY": "k-0123456789", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "podship", command, "-c", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_every_plugin_has_an_options_table():
    assert {table.plugin for table in all_tables()} >= {
        "proofpoint_pod",
        "stdout",
        "forward",
        "syslog",
        "log_filter",
    }
