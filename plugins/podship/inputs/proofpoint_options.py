"""The `proofpoint_pod` input's options table and the checks that span several options."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from podship.core.connector import Settings
from podship.core.coverage import Timing
from podship.core.pod import DEFAULT_URL, canonical_type
from podship.core.records import ORIGINALS
from podship.errors import ConfigError
from podship.runtime.fragments import tls_verification
from podship.runtime.options import Option, OptionTable, Secret

DAY = 86400.0
_TIMING, _SETTINGS = Timing(), Settings()  # the core's defaults are the options' defaults
OPTIONS = OptionTable(
    plugin="proofpoint_pod",
    kind="input",
    summary="Reads one PoD Log API stream (one type) live, repairing gaps from the archive.",
    options=(
        Option("alias", "str", "", "Connector name: ASCII, unique; default `<tenant>-<type>`."),
        Option("tenant", "str", "", "Tenant name written to every record as `tenant_name`."),
        Option(
            "cluster_id",
            "str",
            None,
            "PoD cluster id, shown at the top of the PoD admin interface.",
            required=True,
        ),
        Option(
            "api_key", "secret", None, "PoD API key; write `${POD_API_KEY}` to take it from the environment."
        ),
        Option("api_key_file", "str", "", "A file holding the API key, instead of `api_key`."),
        Option(
            "type",
            "str",
            "message",
            "Log type; `sendmail` is an alias of maillog.",
            choices=("message", "maillog", "audit", "sendmail"),
        ),
        Option(
            "original_event",
            "str",
            "",
            "Deprecated: write `original` on the outputs (compact, raw or none for syslog_index).",
            choices=ORIGINALS,
        ),
        Option("url", "str", DEFAULT_URL, "Stream URL; `ws://` only for loopback addresses (the simulator)."),
        Option(
            "backfill",
            "duration",
            7 * DAY,
            "History fetched from the archive on the first start.",
            minimum=0,
            maximum=30 * DAY,
        ),
        Option(
            "keepalive_interval",
            "duration",
            60.0,
            "Ping interval; PoD drops connections idle for about 5 minutes.",
            minimum=0.1,
            maximum=240,
        ),
        Option(
            "max_frame_bytes",
            "size",
            _SETTINGS.max_frame_bytes,
            "Frames larger than this are dead-lettered (PoD events can exceed 1 MiB).",
            minimum=1024,
            maximum=1 << 30,
        ),
        Option(
            "reconnect_min",
            "duration",
            _SETTINGS.reconnect_min,
            "First reconnect delay; doubles per failure, with jitter.",
            minimum=0.01,
            maximum=600,
        ),
        Option(
            "reconnect_max",
            "duration",
            _SETTINGS.reconnect_max,
            "Longest reconnect delay.",
            minimum=0.01,
            maximum=3600,
        ),
        Option(
            "open_timeout",
            "duration",
            10.0,
            "Time allowed for TCP, TLS and the WebSocket handshake.",
            minimum=0.1,
            maximum=300,
        ),
        Option(
            "proxy",
            "str",
            "env",
            "HTTP CONNECT proxy URL; `env` follows HTTPS_PROXY/NO_PROXY, `none` disables.",
        ),
        *tls_verification("server"),
        Option(
            "archive_delay",
            "duration",
            _TIMING.archive_delay_ms / 1000,
            "How long after an hour ends the archive holds all of it.",
            minimum=0,
            maximum=6 * 3600,
        ),
        Option(
            "reorder_window",
            "duration",
            _TIMING.reorder_ms / 1000,
            "How far out of order event times may arrive.",
            minimum=0,
            maximum=3600,
        ),
        Option(
            "live_resume",
            "duration",
            _TIMING.resume_ms / 1000,
            "A live reconnect within this resumes where it dropped (PoD keeps 1h).",
            minimum=0,
            maximum=3600,
        ),
        Option(
            "archive_lag",
            "duration",
            _TIMING.lag_ms / 1000,
            "How far behind the present the archive starts to hold events; a hole's hour is fetched "
            "early once part of it is this old, and again when complete.",
            minimum=0,
            maximum=6 * 3600,
        ),
        Option(
            "release_wait",
            "duration",
            _SETTINGS.release_wait,
            "After our own session ends, a 409 for this long is the server releasing it: retried in "
            "short steps, not an error.",
            minimum=0,
            maximum=600,
        ),
    ),
)


def check(values: dict[str, Any], path: str) -> None:
    """Checks that span options: the key source, the URL scheme, the connector name."""
    values["type"] = canonical_type(values["type"])
    values["alias"] = values["alias"] or "-".join(filter(None, (values["tenant"], values["type"])))
    if not values["alias"].isascii() or not values["alias"].isprintable() or "/" in values["alias"]:
        raise ConfigError(
            "connector name must be printable ASCII without '/' (e.g. acme-message)",
            file=path,
            plugin=OPTIONS.plugin,
            option="alias",
        )
    values["api_key"] = _api_key(values, path)
    _check_url(values["url"], path)


def _api_key(values: dict[str, Any], path: str) -> Secret:
    if values["api_key"] is not None and values["api_key_file"]:
        raise ConfigError(
            "set api_key or api_key_file, not both", file=path, plugin=OPTIONS.plugin, option="api_key_file"
        )
    if values["api_key_file"]:
        try:
            key = Path(values["api_key_file"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file {values['api_key_file']}: {exc.strerror}",
                file=path,
                plugin=OPTIONS.plugin,
                option="api_key_file",
            ) from None
        values["api_key"] = Secret(key)
    secret = values["api_key"]
    if not isinstance(secret, Secret) or not secret.reveal():
        raise ConfigError(
            "is required (or api_key_file); use ${POD_API_KEY} to read it from the environment",
            file=path,
            plugin=OPTIONS.plugin,
            option="api_key",
        )
    return secret


def _check_url(url: str, path: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "wss" and parts.hostname:
        return
    if parts.scheme == "ws" and parts.hostname and _loopback(parts.hostname):
        return
    raise ConfigError(
        "must be wss://HOST/v1/stream (ws:// only for loopback addresses)",
        file=path,
        plugin=OPTIONS.plugin,
        option="url",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
