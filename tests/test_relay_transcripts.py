"""What real collectors send from the sources users run (Fluentd `in_exec` and `in_tail`, Fluent Bit
`tail` and `exec`, JSON parsed), replayed from tests/fixtures/forward/ (README.md there says how they
were recorded): every record comes out whole, with str keys and values equal to the lines fed.

Fluentd's records are msgpack bin at every depth (Ruby ASCII-8BIT strings), except from in_tail with
the Oj JSON parser; Fluent Bit's are str. The relay must give the same records for all.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest

from podship.core import encode_forward as fwd
from tests.forward_peer import FIXTURES, transcript
from tests.helpers import write_pipeline

# The three JSON lines every sender was fed (the file the exec command printed and tail read).
FED = [json.loads(line) for line in (FIXTURES / "collector-records.ndjson").read_text("utf-8").splitlines()]
FED_MS = [1716405003058, 1716405003059, 1716405003060]  # their event_time, as Fluent Bit's parser took it

# name: (tag, event times in ms or None when the sender stamped the time of reading)
RECORDED = {
    "fluentd-1.16.11-out-exec": ("pod.exec", None),
    "fluentd-1.16.11-out-exec-gzip": ("pod.exec", None),
    "fluentd-1.16.11-out-tail": ("pod.tail", None),
    "fluentd-1.16.11-out-tail-oj": ("pod.tail", None),
    "fluent-bit-5.1.1-out-exec": ("pod.exec", FED_MS),
    "fluent-bit-5.1.1-out-tail": ("pod.tail", FED_MS),
    "fluent-bit-5.1.1-out-tail-gzip": ("pod.tail", FED_MS),
}


def decoded(frame: bytes) -> Any:
    """One message as the relay's forward input reads it off the socket."""
    (message,) = fwd.Replies().feed(frame)
    return message


def test_the_fed_records_have_non_ascii_keys_and_values_at_depth():
    assert len(FED) == 3
    assert FED[0]["text"] == "héllo"
    assert FED[0]["msg"]["header"] == {"subject": ["Grüße ✓"], "x-clé": ["välue"]}


def _strings(value: Any, found: list[Any]) -> list[Any]:
    """Every map key and string value at any depth, as msgpack read it: bytes for bin, str for str."""
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(key)
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)
    elif isinstance(value, bytes | str):
        found.append(value)
    return found


def _record_maps(name: str) -> list[dict[Any, Any]]:
    """The records of a client transcript with msgpack's own reading (bin as bytes, str as str)."""
    (frame,) = transcript(name)[0]
    message = msgpack.unpackb(frame, raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    entries = message[1]
    if not isinstance(entries, list):
        body = fwd.raw(entries)
        if message[2].get("compressed") == "gzip":
            body = gzip.decompress(body)
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(body)
        entries = list(unpacker)
    return [record for _, record in entries]


BIN = ["fluentd-1.16.11-out-exec", "fluentd-1.16.11-out-exec-gzip", "fluentd-1.16.11-out-tail"]


@pytest.mark.parametrize("name", BIN)
def test_fluentds_records_from_exec_and_tail_are_bin_at_every_depth(name):
    """What these fixtures are for: every key and string value on Fluentd's wire is msgpack bin."""
    records = _record_maps(name)
    assert len(records) == 3
    strings = [item for record in records for item in _strings(record, [])]
    assert strings and all(isinstance(item, bytes) for item in strings)
    assert b"x-cl\xc3\xa9" in strings and b"Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93" in strings


@pytest.mark.parametrize("name", [name for name in RECORDED if name not in BIN])
def test_fluent_bits_records_and_fluentd_in_tail_with_oj_are_str(name):
    records = _record_maps(name)
    assert records == FED


@pytest.mark.parametrize("name", RECORDED)
def test_a_real_collectors_records_decode_to_the_lines_fed_with_str_keys_and_values(name):
    tag, times = RECORDED[name]
    client, server = transcript(name)
    (frame,) = client
    events = fwd.events_of(decoded(frame))
    assert events.tag == tag
    assert [record for _, record in events.events] == FED  # bytes never equal str: a bin key fails here
    if times:
        assert [ms for ms, _ in events.events] == times
    assert fwd.ack(events.chunk) == server[-1], (
        "the ack podship answers is the real receiver's, byte for byte"
    )


def _relay_file(tmp_path: Path) -> Path:
    return write_pipeline(
        tmp_path / "relay.yaml",
        [{"name": "forward", "listen": "127.0.0.1", "port": 0}],
        service={"state_dir": str(tmp_path / "state")},
    )


async def _until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


LISTENING = re.compile(r"relay listening on 127\.0\.0\.1:(\d+)")


@pytest.mark.parametrize("name", RECORDED)
async def test_a_recorded_stream_replayed_into_a_podship_relay_process(tmp_path, name):
    """`podship relay` as an operator runs it: the real sender's bytes in, the real receiver's acks
    back, and the fed records on its stdout; then it stops on SIGTERM with status 0."""
    client, server = transcript(name)
    out, err = tmp_path / "stdout.ndjson", tmp_path / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        relay = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "podship",
            "relay",
            "-c",
            str(_relay_file(tmp_path)),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        assert await _until(lambda: LISTENING.search(err.read_text()) or relay.returncode is not None, 30)
        match = LISTENING.search(err.read_text())
        assert match, err.read_text()[-3000:]
        reader, writer = await asyncio.open_connection("127.0.0.1", int(match[1]))
        writer.write(b"".join(client))
        expected = b"".join(server)
        try:
            answer = await asyncio.wait_for(reader.readexactly(len(expected)), 10)
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            raise AssertionError(f"no ack ({exc!r}); the relay said:\n{err.read_text()[-3000:]}") from None
        finally:
            writer.close()
        assert answer == expected, "the acks the real receiver answered"
        assert await _until(lambda: out.read_bytes().count(b"\n") >= len(FED), 10), err.read_text()[-3000:]
    finally:
        if relay.returncode is None:
            relay.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(relay.wait(), 15)
        except TimeoutError:
            relay.kill()
            await relay.wait()
    assert [json.loads(line) for line in out.read_bytes().splitlines()] == FED
    assert relay.returncode == 0 and "Traceback" not in err.read_text(), err.read_text()[-3000:]
