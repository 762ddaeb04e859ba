"""The `forward` output's options table, its options object, and the check that spans its options
(`servers` entries are `host:port`)."""

from __future__ import annotations

from dataclasses import dataclass

from podship.errors import ConfigError
from podship.runtime.fragments import (
    MODEL_OPTIONS,
    RECONNECT_MAX,
    TAGS,
    TLS_CLIENT_CERTIFICATE,
    ModelChoice,
    tls_verification,
)
from podship.runtime.options import Option, OptionTable, Secret


@dataclass(frozen=True, slots=True)
class ForwardOptions(ModelChoice):
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    host: str
    port: int
    servers: tuple[str, ...]
    tag: str
    require_ack: bool
    ack_timeout: float
    compress: str
    max_frame_bytes: int
    oversize: str
    tls: bool
    tls_ca_file: str
    tls_verify: bool
    tls_cert_file: str
    tls_key_file: str
    shared_key: Secret | None
    self_hostname: str
    username: str
    password: Secret | None
    connect_timeout: float
    reconnect_max: float
    tags: tuple[str, ...]


OPTIONS = OptionTable(
    plugin="forward",
    kind="output",
    summary="Sends records with the Fluent Forward protocol (PackedForward, chunk acks, TLS, shared key).",
    options=(
        Option("host", "str", "127.0.0.1", "Receiver host (Fluent Bit in_forward, Fluentd, Vector fluent)."),
        Option("port", "int", 24224, "Receiver port.", minimum=1, maximum=65535),
        Option(
            "servers", "list", [], "`host:port` receivers tried in turn on failure (overrides host and port)."
        ),
        Option("tag", "str", "pod.{event_type}", "Tag template; `{field}` reads a top-level record field."),
        Option("require_ack", "bool", True, "Wait for the receiver's ack of every chunk (the safe path)."),
        Option(
            "ack_timeout",
            "duration",
            30.0,
            "Chunks of a batch not acked in this time are sent again.",
            minimum=0.05,
        ),
        Option(
            "compress",
            "str",
            "none",
            "Compress chunks (Vector and Fluent Bit accept gzip).",
            choices=("none", "gzip"),
        ),
        Option(
            "max_frame_bytes",
            "size",
            5_000_000,
            "Chunks stay under this (Fluent Bit's limit is 6,144,000).",
            minimum=1024,
        ),
        Option(
            "oversize",
            "str",
            "dead_letter",
            "A single record over the limit: set aside, or trim its largest parts.",
            choices=("dead_letter", "trim"),
        ),
        Option("tls", "bool", False, "Connect with TLS."),
        *tls_verification("receiver"),
        *TLS_CLIENT_CERTIFICATE,
        Option(
            "shared_key", "secret", None, "Secure-forward shared key; `${VAR}` reads it from the environment."
        ),
        Option("self_hostname", "str", "", "Our hostname in the handshake (default: this host's name)."),
        Option("username", "str", "", "User for receivers that require one (Security.Users)."),
        Option("password", "secret", None, "Password of `username`."),
        Option(
            "connect_timeout", "duration", 10.0, "Time allowed for TCP, TLS and the handshake.", minimum=0.05
        ),
        RECONNECT_MAX,
        TAGS,
        *MODEL_OPTIONS,
    ),
    shape=ForwardOptions,
)


def check(options: ForwardOptions, path: str) -> ForwardOptions:
    """`servers` entries are `host:port`."""
    for spec in options.servers:
        host, _, port = spec.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"expected host:port, got {spec!r}", file=path, plugin="forward", option="servers"
            )
    return options
