"""Fluent Forward protocol v1, as bytes in and bytes out (no sockets here).

PackedForward: `[tag, <concatenated msgpack entries>, {"chunk": id, "size": n, "compressed": "gzip"}]`,
each entry `[EventTime, record]` (ext type 0: seconds and nanoseconds, big-endian uint32). The
receiver answers `{"ack": id}`; Vector answers `{}` on an error. Secure forward: the server's HELO
carries a nonce (and an auth salt when users are required); the client's PING proves the shared key
with `sha512(salt + client_hostname + nonce + shared_key)`; the PONG proves it back.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import Any, cast

import msgpack
from fluent.sender import EventTime  # fluent-logger's EventTime: ext type 0, the spec's layout

_packer = msgpack.Packer(use_bin_type=True)


def entry(ts_ms: int, record: dict[str, Any]) -> bytes:
    """One `[EventTime, record]` entry with millisecond precision."""
    seconds, millis = divmod(ts_ms, 1000)
    return cast(bytes, _packer.pack([EventTime(seconds, millis * 1_000_000), record]))


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
    return cast(bytes, _packer.pack([tag, body, options]))


class Replies:
    """Messages from the server (acks, HELO, PONG), decoded from a byte stream."""

    def __init__(self) -> None:
        self._unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=1 << 20)

    def feed(self, data: bytes) -> list[Any]:
        self._unpacker.feed(data)
        return list(self._unpacker)


def ack_of(message: Any) -> str | None:
    """The chunk id an ack acknowledges; None for `{}` (a refusal) or anything else."""
    if isinstance(message, dict) and isinstance(message.get("ack"), str | bytes):
        ack = message["ack"]
        return ack.decode() if isinstance(ack, bytes) else ack
    return None


def _text(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _digest(*parts: Any) -> str:
    return hashlib.sha512(b"".join(_text(part) for part in parts)).hexdigest()


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
        raise ValueError(f"expected HELO, got {str(message)[:80]}")
    options = message[1]
    return Helo(
        _text(options.get("nonce", b"")),
        _text(options.get("auth", b"")),
        bool(options.get("keepalive", True)),
    )


def ping(
    helo: Helo, hostname: str, shared_key: str, salt: str, *, username: str = "", password: str = ""
) -> bytes:
    """The PING that proves the shared key (and the user, when the server asked for one).

    `salt` is sent as it is hashed: text. Every field is a str, since Fluent Bit rejects bin fields.
    """
    password_digest = _digest(helo.auth_salt, username, password) if helo.auth_salt else ""
    key_digest = _digest(salt, hostname, helo.nonce, shared_key)
    return cast(bytes, _packer.pack(["PING", hostname, salt, key_digest, username, password_digest]))


def check_pong(message: Any, helo: Helo, shared_key: str, salt: str) -> str:
    """The server's hostname once the PONG proves the server knows the key; ValueError otherwise."""
    if not (isinstance(message, list) and len(message) == 5 and message[0] == "PONG"):
        raise ValueError(f"expected PONG, got {str(message)[:80]}")
    _, ok, reason, hostname, digest = message
    if not ok:
        raise ValueError(f"the server refused the handshake: {reason}")
    if digest != _digest(salt, hostname, helo.nonce, shared_key):
        raise ValueError("the server's PONG does not prove the shared key")
    return str(hostname)


def tag_for(template: str, record: dict[str, Any]) -> str:
    """The Forward tag from a template such as `pod.{event_type}`; missing fields read `unknown`."""
    return template.format_map(_Fields(record))


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "unknown"
