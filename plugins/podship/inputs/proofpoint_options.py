"""The `proofpoint_pod` input's options table, its options object, the checks that span several
options, and the one mapping of the options onto the core's dataclasses."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from pathlib import Path
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


@dataclass(frozen=True, slots=True)
class ProofpointOptions:
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    alias: str
    tenant: str
    cluster_id: str
    api_key: Secret | None  # None until `check` (or the key file) supplies it
    api_key_file: str
    type: str
    original_event: str
    url: str
    backfill: float
    keepalive_interval: float
    max_frame_bytes: int
    reconnect_min: float
    reconnect_max: float
    open_timeout: float
    proxy: str
    tls_ca_file: str
    tls_verify: bool
    archive_delay: float
    reorder_window: float
    live_resume: float
    archive_lag: float
    release_wait: float

    # The one place where the options meet the core's dataclasses (seconds become milliseconds).

    def timing(self) -> Timing:
        return Timing(
            reorder_ms=_ms(self.reorder_window),
            archive_delay_ms=_ms(self.archive_delay),
            resume_ms=_ms(self.live_resume),
            lag_ms=_ms(self.archive_lag),
        )

    def settings(self) -> Settings:
        return Settings(
            reconnect_min=self.reconnect_min,
            reconnect_max=self.reconnect_max,
            release_wait=self.release_wait,
            max_frame_bytes=self.max_frame_bytes,
        )

    def context(self, collector_host: str) -> dict[str, str]:
        """What the core writes into every record of this connector."""
        return {
            "tenant_name": self.tenant,
            "connector": self.alias,
            "collector_host": collector_host,  # a fleet of collectors: which one shipped it
            "original": self.original_event or "compact",  # resolved by engine/originals.py
        }


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


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
    shape=ProofpointOptions,
)


def check(options: ProofpointOptions, path: str) -> ProofpointOptions:
    """Checks that span options: the key source, the URL scheme, the connector name. Returns the
    options completed: the canonical type, the default alias, the key read from its file."""
    kind = canonical_type(options.type)
    alias = options.alias or "-".join(filter(None, (options.tenant, kind)))
    if not alias.isascii() or not alias.isprintable() or "/" in alias:
        raise ConfigError(
            "connector name must be printable ASCII without '/' (e.g. acme-message)",
            file=path,
            plugin=OPTIONS.plugin,
            option="alias",
        )
    key = _api_key(options, path)
    _check_url(options.url, path)
    return replace(options, type=kind, alias=alias, api_key=key)


def _api_key(options: ProofpointOptions, path: str) -> Secret:
    if options.api_key is not None and options.api_key_file:
        raise ConfigError(
            "set api_key or api_key_file, not both", file=path, plugin=OPTIONS.plugin, option="api_key_file"
        )
    secret = _key_file(options.api_key_file, path) if options.api_key_file else options.api_key
    if secret is None or not secret.reveal():
        raise ConfigError(
            "is required (or api_key_file); use ${POD_API_KEY} to read it from the environment",
            file=path,
            plugin=OPTIONS.plugin,
            option="api_key",
        )
    return secret


def _key_file(name: str, path: str) -> Secret:
    try:
        return Secret(Path(name).read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the key file {name}: {exc.strerror}",
            file=path,
            plugin=OPTIONS.plugin,
            option="api_key_file",
        ) from None


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
