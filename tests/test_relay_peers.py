"""`podship relay` as a real process against what peers send: msgpack bin keys and values (Ruby
strings in ASCII-8BIT, as Fluentd's in_exec and in_tail produce), a gzip bomb, records no encoder
takes. Nothing a peer sends stops it, and memory stays bounded."""

import asyncio
import json
import signal
import sys
import zlib
from pathlib import Path

import msgpack
import pytest

from podship.core import encode_forward as fwd
from tests.helpers import write_pipeline

BOMB_INFLATED = 1 << 30  # 1 GiB of zeros, about 1 MB on the wire
RSS_BOUND_KIB = 200 << 10  # the relay's whole resident set at its peak: 64 MiB inflated at most


def gzip_bomb(inflated: int) -> bytes:
    """A gzip member of `inflated` zero bytes, made in steps (never holding them all)."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(16 << 20)
    parts = [deflater.compress(block) for _ in range(inflated // len(block))]
    return b"".join([*parts, deflater.flush()])


def packed(tag: str, entries: list[bytes], chunk: str, **options) -> bytes:
    return msgpack.packb([tag, b"".join(entries), {"chunk": chunk, **options}], use_bin_type=True)


def bin_entry(n: int) -> bytes:
    """An entry as Fluentd's in_exec sends it: every key and string value a msgpack bin."""
    record = {b"event_id": f"bin-{n}".encode(), b"text": "héllo".encode(), b"nested": {b"k": [b"v"]}}
    return msgpack.packb([1716405003 + n, record], use_bin_type=True)


class Relay:
    """`podship relay -c FILE` in a child process, its stdout in a file."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path
        self.out, self.err = tmp_path / "relayed.ndjson", tmp_path / "relay.log"
        self.port = 0

    async def __aenter__(self) -> "Relay":
        config = self.folder / "relay.yaml"
        write_pipeline(config, [{"name": "forward", "port": 0}], service={"state_dir": "state"})
        with self.out.open("wb") as out, self.err.open("wb") as err:  # the child has its own copies
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "podship", "relay", "-c", str(config), stdout=out, stderr=err
            )
        self.port = await self._listening()
        return self

    async def _listening(self, timeout: float = 20.0) -> int:
        async with asyncio.timeout(timeout):
            while "relay listening on" not in self.log():
                assert self.process.returncode is None, self.log()
                await asyncio.sleep(0.1)
        return int(self.log().split("relay listening on ")[1].split()[0].rsplit(":", 1)[1])

    def log(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.out.read_bytes().splitlines()]

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])

    async def __aexit__(self, *exc_info) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)


async def send(port: int, frame: bytes, *, timeout: float = 20.0) -> bytes:
    """The frame on a new connection; what the relay answers before it closes or `timeout` passes
    (b"" for a close without an answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame)
    try:
        return await asyncio.wait_for(reader.read(1000), timeout)
    except ConnectionError:
        return b""
    finally:
        writer.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
async def test_a_gzip_bomb_is_refused_in_bounded_memory_and_the_next_chunk_is_acked(tmp_path):
    bomb = packed("pod.bomb", [gzip_bomb(BOMB_INFLATED)], "Ym9tYg==", compressed="gzip")
    async with Relay(tmp_path) as relay:
        answer = await send(relay.port, bomb)
        peak = relay.peak_rss_kib()
        print(f"relay peak RSS after a 1 GiB gzip bomb: {peak} KiB")
        good = await send(relay.port, packed("pod.exec", [bin_entry(n) for n in range(3)], "Z29vZA=="))
        await asyncio.sleep(0.5)
        assert relay.process.returncode is None, relay.log()
    assert answer == b"", "no ack for the bomb: its connection is closed"
    assert peak < RSS_BOUND_KIB, f"peak RSS {peak} KiB while refusing a 1 GiB bomb"
    assert msgpack.unpackb(good, raw=False) == {"ack": "Z29vZA=="}
    assert [r["event_id"] for r in relay.records()] == ["bin-0", "bin-1", "bin-2"]
    refusals = [line for line in relay.log().splitlines() if "inflates to more than" in line]
    assert len(refusals) == 1, relay.log()
    letters = (tmp_path / "state" / "forward-0" / "deadletter.jsonl").read_text().splitlines()
    assert len(letters) == 1 and "inflates to more than 67108864 bytes" in json.loads(letters[0])["reason"]
    assert relay.process.returncode == 0
    assert "Traceback" not in relay.log()


async def test_bin_keys_and_values_at_any_depth_come_through_as_text(tmp_path):
    async with Relay(tmp_path) as relay:
        answer = await send(relay.port, packed("pod.exec", [bin_entry(n) for n in range(3)], "YmlucyE="))
    assert msgpack.unpackb(answer, raw=False) == {"ack": "YmlucyE="}
    assert relay.records() == [
        {"event_id": f"bin-{n}", "text": "héllo", "nested": {"k": ["v"]}} for n in range(3)
    ]
    assert relay.process.returncode == 0
    assert "Traceback" not in relay.log()


async def test_a_record_no_encoder_takes_is_set_aside_and_its_chunk_is_acked(tmp_path):
    """A value of an extension type (legal msgpack, no JSON type), an integer key, and bin that is
    not UTF-8, between two good records."""
    entries = [
        msgpack.packb([1716405003, {"event_id": "before", 1: "an integer key"}]),
        msgpack.packb([1716405004, {"event_id": "odd", "ext": msgpack.ExtType(42, b"\x01")}]),
        msgpack.packb([1716405005, {"event_id": "latin-1", "text": "café".encode("latin-1")}]),
        msgpack.packb([1716405006, {"event_id": "after"}]),
    ]
    async with Relay(tmp_path) as relay:
        answer = await send(relay.port, packed("pod.odd", entries, "b2Rk"))
        await asyncio.sleep(0.3)
        assert relay.process.returncode is None, relay.log()
    assert msgpack.unpackb(answer, raw=False) == {"ack": "b2Rk"}
    relayed = relay.records()
    assert [r["event_id"] for r in relayed] == ["before", "latin-1", "after"]
    assert relayed[0]["1"] == "an integer key", "JSON keys are text: an integer key is written as one"
    assert relayed[1]["text"] == "caf\ufffd", "bin that is not UTF-8: each bad byte becomes U+FFFD"
    letters = (tmp_path / "state" / "forward-0" / "deadletter.jsonl").read_text().splitlines()
    letters = [json.loads(line) for line in letters]
    assert [letter["record"] for letter in letters] == [
        {"event_id": "odd", "ext": "ExtType(code=42, data=b'\\x01')"}
    ]
    assert letters[0]["reason"].startswith("stdout: cannot encode the record")
    assert "Traceback" not in relay.log()


def test_the_gzip_limit_holds_for_concatenated_members_too():
    """Fluentd concatenates gzip members: their sum is what the limit bounds."""
    member = gzip_bomb(1 << 24)
    assert len(fwd.gunzip(member * 3, 3 << 24)) == 3 << 24
    with pytest.raises(fwd.OverLimit):
        fwd.gunzip(member * 3, (3 << 24) - 1)
    with pytest.raises(ValueError, match="ends before"):
        fwd.gunzip(member[:-10], 1 << 30)


async def test_a_bad_entry_is_set_aside_alone_and_a_malformed_message_never_sinks_the_relay(tmp_path):
    """A message too short to be one, an entry whose time is infinite, an entry whose record is no
    map: each refused or set aside, the good records of the chunk delivered and the chunk acked."""
    entries = [
        msgpack.packb([1716405003, {"event_id": "good-1"}]),
        msgpack.packb([float("inf"), {"event_id": "infinite"}]),
        msgpack.packb([1716405004, 5]),
        msgpack.packb([1716405005, {"event_id": "good-2"}]),
    ]
    async with Relay(tmp_path) as relay:
        short = await send(relay.port, msgpack.packb(["pod.short", 1]))
        answer = await send(relay.port, packed("pod.mixed", entries, "bWl4ZWQ="))
        await asyncio.sleep(0.3)
        assert relay.process.returncode is None, relay.log()
    assert short == b"", "a message that is none: refused, its connection closed"
    assert msgpack.unpackb(answer, raw=False) == {"ack": "bWl4ZWQ="}
    assert [r["event_id"] for r in relay.records()] == ["good-1", "good-2"]
    letters = (tmp_path / "state" / "forward-0" / "deadletter.jsonl").read_text().splitlines()
    reasons = [json.loads(line)["reason"] for line in letters]
    assert len(reasons) == 3, reasons
    assert "not a Forward message" in reasons[0]
    assert "not a Forward time" in reasons[1] and "must be a map" in reasons[2]
    assert relay.process.returncode == 0
    assert "Traceback" not in relay.log()
