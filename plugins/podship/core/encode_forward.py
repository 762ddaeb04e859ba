"""Fluent Forward protocol v1, as bytes in and bytes out (no sockets here), for both directions.

PackedForward: `[tag, <concatenated msgpack entries>, {"chunk": id, "size": n, "compressed": "gzip"}]`,
each entry `[EventTime, record]` (ext type 0: seconds and nanoseconds, big-endian uint32). The
receiver answers `{"ack": id}`; Vector answers `{}` on an error. Secure forward: the server's HELO
carries a nonce (and an auth salt when users are required); the client's PING proves the shared key
with `sha512(salt + client_hostname + nonce + shared_key)`; the PONG proves it back.

What real peers put on the wire (tests/fixtures/forward/ holds recordings): Fluent Bit's HELO carries
nonce and auth salt as msgpack *str* holding 16 random bytes, and its in_forward rejects a PING with
any field that is not a str; Fluentd's out_forward sends entries as a str32 of binary msgpack, with
`"compressed": "text"` and a chunk id ending in a newline. So strings are decoded with
`surrogateescape`: a str that is not UTF-8 survives byte for byte and is echoed with its type.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, cast

import msgpack

from podship.core.encode_json import unembedded
from podship.errors import PodshipError

# Two packers, because msgpack's C packer encodes each str through the codec machinery once
# `unicode_errors` is set (a message record packed in 11.4 us, against 6.9 strict): the strict one
# first, the one that echoes a non-UTF-8 str byte for byte (see above) only where it is needed.
_strict = msgpack.Packer(use_bin_type=True, default=unembedded)  # default: a RawJSON as a map
_escaping = msgpack.Packer(use_bin_type=True, unicode_errors="surrogateescape", default=unembedded)
WIRE = {"raw": False, "strict_map_key": False, "unicode_errors": "surrogateescape"}


def _pack(value: Any) -> bytes:
    try:
        return cast(bytes, _strict.pack(value))
    except UnicodeEncodeError:  # a lone surrogate: a str decoded with surrogateescape
        return cast(bytes, _escaping.pack(value))


def event_time(ts_ms: int) -> msgpack.ExtType:
    """The spec's EventTime: ext type 0, seconds and nanoseconds as big-endian uint32 (the bytes
    of fluent-logger's EventTime, whose module would pull sockets and threads into the core)."""
    seconds, millis = divmod(ts_ms, 1000)
    return msgpack.ExtType(0, struct.pack(">II", seconds, millis * 1_000_000))


def entry(ts_ms: int, record: dict[str, Any]) -> bytes:
    """One `[EventTime, record]` entry with millisecond precision."""
    return _pack([event_time(ts_ms), record])


def split(entries: list[bytes], max_bytes: int) -> list[list[bytes]]:
    """Consecutive groups whose total size stays under `max_bytes` (a lone larger entry stands alone)."""
    groups: list[list[bytes]] = []
    size = 0
    for item in entries:
        if not groups or size + len(item) > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += len(item)
    return groups


def packed_forward(tag: str, entries: list[bytes], chunk_id: str, *, compress: bool = False) -> bytes:
    body = b"".join(entries)
    options: dict[str, Any] = {"chunk": chunk_id, "size": len(entries)}
    if compress:
        body, options["compressed"] = gzip.compress(body, compresslevel=5), "gzip"
    return _pack([tag, body, options])


class Replies:
    """Messages from the peer (acks, HELO, PONG, PING, events), decoded from a byte stream."""

    def __init__(self, max_bytes: int = 1 << 20) -> None:
        self._unpacker = msgpack.Unpacker(max_buffer_size=max_bytes, **WIRE)

    def feed(self, data: bytes) -> list[Any]:
        self._unpacker.feed(data)
        return list(self._unpacker)


def raw(value: Any) -> bytes:
    """The exact bytes of a msgpack str (decoded with surrogateescape) or bin."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def ack_of(message: Any) -> str | None:
    """The chunk id an ack acknowledges; None for `{}` (a refusal) or anything else."""
    if isinstance(message, dict) and isinstance(message.get("ack"), str | bytes):
        return raw(message["ack"]).decode("utf-8", "surrogateescape")
    return None


def ack(chunk: Any) -> bytes:
    """`{"ack": chunk}` with the chunk id exactly as the sender wrote it: same bytes, same type."""
    return _pack({"ack": chunk})


def _digest(*parts: Any) -> str:
    return hashlib.sha512(b"".join(raw(part) for part in parts)).hexdigest()


class HandshakeRefused(PodshipError, ValueError):
    """The receiver rejected the shared key, the hostname or the user (a PONG saying so, or a close)."""


@dataclass(frozen=True)
class Helo:
    nonce: bytes
    auth_salt: bytes
    keepalive: bool


def parse_helo(message: Any) -> Helo:
    if not (
        isinstance(message, list)
        and len(message) == 2
        and message[0] == "HELO"
        and isinstance(message[1], dict)
    ):
        raise ValueError(f"expected HELO, got {ascii(message)[:80]}")
    options = message[1]
    return Helo(
        raw(options.get("nonce", b"")),
        raw(options.get("auth", b"")),
        bool(options.get("keepalive", True)),
    )


def ping(
    helo: Helo, hostname: str, shared_key: str, salt: str, *, username: str = "", password: str = ""
) -> bytes:
    """The PING that proves the shared key (and the user, when the server asked for one).

    Every field is a str: Fluent Bit's in_forward (fw_prot.c, check_ping) rejects any other type.
    """
    password_digest = _digest(helo.auth_salt, username, password) if helo.auth_salt else ""
    key_digest = _digest(salt, hostname, helo.nonce, shared_key)
    return _pack(["PING", hostname, salt, key_digest, username, password_digest])


def check_pong(message: Any, helo: Helo, shared_key: str, salt: str) -> str:
    """The server's hostname once the PONG proves the server knows the key.

    HandshakeRefused for a refusal or a wrong proof, ValueError for anything that is not a PONG.
    """
    if not (isinstance(message, list) and len(message) == 5 and message[0] == "PONG"):
        raise ValueError(f"expected PONG, got {ascii(message)[:80]}")
    _, ok, reason, hostname, digest = message
    if ok is not True:
        raise HandshakeRefused(f"PONG refused: {ascii(reason)[:80]}")
    if digest != _digest(salt, hostname, helo.nonce, shared_key):
        raise HandshakeRefused("the PONG does not prove our shared key")
    return str(hostname)


# The server side, for `podship relay`.


def helo(nonce: bytes, auth_salt: bytes) -> bytes:
    """HELO; `auth` only when users are required (Fluentd's out_forward demands a user when it is set)."""
    options: dict[str, Any] = {"nonce": nonce, "keepalive": True}
    if auth_salt:
        options["auth"] = auth_salt
    return _pack(["HELO", options])


@dataclass(frozen=True)
class Ping:
    hostname: str
    salt: bytes
    refusal: str  # empty when the client proved the key (and the user)


def check_ping(message: Any, nonce: bytes, shared_key: str, users: dict[str, str], auth_salt: bytes) -> Ping:
    """The client's PING against our key and users; ValueError when it is not a PING at all."""
    if not (isinstance(message, list) and len(message) == 6 and message[0] == "PING"):
        raise ValueError(f"expected PING, got {ascii(message)[:80]}")
    _, hostname, salt, digest, username, password_digest = message
    client, refusal = raw(hostname).decode("utf-8", "replace"), ""
    if raw(digest) != _digest(salt, hostname, nonce, shared_key).encode():
        refusal = "shared_key mismatch"
    elif users and not _user_proved(users, auth_salt, raw(username), raw(password_digest)):
        refusal = "username/password mismatch"
    return Ping(client, raw(salt), refusal)


def _user_proved(users: dict[str, str], auth_salt: bytes, username: bytes, digest: bytes) -> bool:
    name = username.decode("utf-8", "surrogateescape")
    return name in users and digest == _digest(auth_salt, username, users[name]).encode()


def pong(ping_: Ping, nonce: bytes, shared_key: str, hostname: str) -> bytes:
    """PONG for a checked PING: the proof of our key, or the refusal and its reason."""
    if ping_.refusal:
        return _pack(["PONG", False, ping_.refusal, "", ""])
    proof = _digest(ping_.salt, hostname, nonce, shared_key)
    return _pack(["PONG", True, "", hostname, proof])


@dataclass(frozen=True)
class Events:
    """One Forward message: its tag, `(epoch ms, record)` events, and the chunk id to echo (or None)."""

    tag: str
    events: list[tuple[int, dict[str, Any]]]
    chunk: Any
    bad: list[tuple[str, Any]] = field(default_factory=list)  # (reason, entry) of entries refused


class OverLimit(PodshipError, ValueError):
    """A peer's chunk would take more than the limit once inflated: refused before it is."""


def events_of(message: Any, max_bytes: int = 64 << 20) -> Events:
    """Message, Forward, PackedForward (str or bin entries) or CompressedPackedForward, decoded;
    a compressed body is inflated to at most `max_bytes` (OverLimit past that)."""
    if not isinstance(message, list) or len(message) < 2 or not isinstance(message[0], str | bytes):
        raise ValueError("not a Forward message")
    tag, second = message[0], message[1]
    if isinstance(second, bytes | str):  # PackedForward, entries as bin or (Fluentd) str32
        options = _options(message, 2)
        entries: list[Any] = list(_unpacked(_body(raw(second), options.get("compressed"), max_bytes)))
    elif isinstance(second, list):  # Forward
        options, entries = _options(message, 2), second
    elif len(message) >= 3:  # Message
        options, entries = _options(message, 3), [[second, message[2]]]
    else:
        raise ValueError("not a Forward message")
    events, bad = _events(entries)
    return Events(_text(tag), events, options.get("chunk"), bad)


def _options(message: list[Any], index: int) -> dict[str, Any]:
    options = message[index] if len(message) > index else None
    return options if isinstance(options, dict) else {}


def _body(body: bytes, compressed: Any, max_bytes: int) -> bytes | bytearray:
    if compressed in (None, "text", b"text"):
        return body
    if compressed in ("gzip", b"gzip"):
        return gunzip(body, max_bytes)
    raise ValueError(f"unsupported compression {compressed!a}")


_STEP = 1 << 20  # inflated at most this much at a time: the output is only ever held once


def gunzip(body: bytes, max_bytes: int) -> bytearray:
    """Every gzip member of `body` (Fluentd concatenates them), inflated in steps that never hold
    more than `max_bytes` of output: a small bomb is refused before it takes the memory it claims."""
    out = bytearray()
    while body:
        inflater = zlib.decompressobj(wbits=31)
        while body and not inflater.eof:
            out += inflater.decompress(body, min(_STEP, max_bytes - len(out) + 1))
            if len(out) > max_bytes:
                raise OverLimit(f"a gzip chunk inflates to more than {max_bytes} bytes")
            body = inflater.unconsumed_tail or inflater.unused_data
        if not inflater.eof:
            raise ValueError("a gzip chunk ends before its last member does")
    return out


def _unpacked(body: bytes | bytearray) -> msgpack.Unpacker:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    unpacker.feed(body)
    return unpacker


def _events(entries: list[Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[str, Any]]]:
    """`(ms, record)` pairs, and the entries that are none, with why: one bad entry is set aside
    alone, so the others of its chunk get through. Nil records are skipped (as Fluentd does), and
    Fluent Bit's group markers."""
    events, bad = [], []
    for item in entries:
        try:
            event = _event(item)
        except ValueError as exc:
            bad.append((str(exc), item))
            continue
        if event is not None:
            events.append(event)
    return events, bad


def _event(item: Any) -> tuple[int, dict[str, Any]] | None:
    if not isinstance(item, list | tuple) or len(item) != 2:
        raise ValueError(f"not a Forward entry: {ascii(item)[:80]}")
    time, record = item
    if record is None or _is_group_marker(time):
        return None
    if not isinstance(record, dict):
        raise ValueError(f"a Forward record must be a map, got {type(record).__name__}")
    return time_ms(time), _clean(record)


def _is_group_marker(time: Any) -> bool:
    """Fluent Bit 4+ frames OpenTelemetry groups with entries whose time is -1 or -2."""
    head = time[0] if isinstance(time, list) and time else time
    return isinstance(head, int) and not isinstance(head, bool) and head < 0


def time_ms(value: Any) -> int:
    """Epoch milliseconds from an int, a float, an EventTime, or `[EventTime, metadata]`."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, msgpack.ExtType) and value.code == 0 and len(value.data) == 8:
        seconds, nanos = struct.unpack(">II", value.data)
        return int(seconds) * 1000 + int(nanos) // 1_000_000
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return int(value * 1000)
    raise ValueError(f"not a Forward time: {ascii(value)[:80]}")


def _text(value: str | bytes) -> str:
    """Text from a msgpack str (decoded with surrogateescape) or bin: UTF-8, each byte that is not
    part of valid UTF-8 replaced by U+FFFD (README: "What the relay takes")."""
    return raw(value).decode("utf-8", "replace")


def _clean(value: Any) -> Any:
    """A record with every str and bin, keys included and at any depth, made valid UTF-8 text.

    Ruby strings in ASCII-8BIT (Fluentd's in_exec and in_tail) arrive as bin; a record keeps the
    same text whichever type its sender used."""
    if isinstance(value, str):
        return value if value.isascii() else _text(value)
    if isinstance(value, bytes):
        return _text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    return value


def tag_for(template: str, record: dict[str, Any]) -> str:
    """The Forward tag from a template such as `pod.{event_type}`; missing fields read `unknown`."""
    return template.format_map(_Fields(record))


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "unknown"
