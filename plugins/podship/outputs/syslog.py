"""`syslog` output: RFC 5424 (or 3164) over UDP, TCP or TLS, the record as JSON in MSG.

Over TCP and TLS a batch counts as acknowledged once written and drained (octet-counted framing by
default, as RFC 5425 requires for TLS); a broken connection is reopened, with the pipeline's
backoff, and the whole batch sent again (at-least-once). UDP has no acknowledgement: a datagram
sent counts as delivered, and a message over `udp_max_bytes` loses the original event, then is cut
at a character boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from podship.core import encode_syslog as syslog
from podship.core import records
from podship.core.event.envelope import Event
from podship.core.models import renderer
from podship.errors import StreamError
from podship.runtime.fragments import MODEL_OPTIONS, RECONNECT_MAX, TAGS, ModelChoice, tls_verification
from podship.runtime.netio import mapped
from podship.runtime.options import Option, OptionTable
from podship.runtime.plugin import Encoded, Plugin
from podship.runtime.tls import client_context


@dataclass(frozen=True, slots=True)
class SyslogOptions(ModelChoice):
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    host: str
    port: int
    mode: str
    format: str
    framing: str
    udp_max_bytes: int
    max_message_bytes: int
    facility: str
    severity: str
    app_name: str
    hostname: str
    sd_id: str
    sd_fields: tuple[str, ...]
    tls_ca_file: str
    tls_verify: bool
    connect_timeout: float
    reconnect_max: float
    tags: tuple[str, ...]


_LAYOUT = syslog.Layout()  # the encoder's defaults are the options' defaults
OPTIONS = OptionTable(
    plugin="syslog",
    kind="output",
    summary="Sends records as syslog messages (RFC 5424 or 3164) over UDP, TCP or TLS.",
    options=(
        Option("host", "str", "127.0.0.1", "Receiver host."),
        Option("port", "int", 514, "Receiver port (6514 is the usual TLS port).", minimum=1, maximum=65535),
        Option("mode", "str", "tcp", "Transport.", choices=("udp", "tcp", "tls")),
        Option("format", "str", _LAYOUT.format, "Message format.", choices=("rfc5424", "rfc3164")),
        Option(
            "framing",
            "str",
            "octet_counting",
            "Stream framing (TLS always counts octets).",
            choices=("octet_counting", "newline"),
        ),
        Option(
            "udp_max_bytes",
            "size",
            2048,
            "Largest datagram; longer messages lose the original event, then are cut.",
            minimum=480,
        ),
        Option(
            "max_message_bytes",
            "size",
            8192,
            "TCP/TLS: largest message the receiver takes (a stock rsyslog: 8KiB, its maxMessageSize); "
            "longer ones lose the original event, then are cut. 0: no limit.",
            minimum=0,
        ),
        Option("facility", "str", _LAYOUT.facility, "Syslog facility.", choices=tuple(syslog.FACILITIES)),
        Option(
            "severity",
            "str",
            _LAYOUT.severity,
            "Severity, or `auto`: reject, quarantine and malware are warnings.",
            choices=("auto", *syslog.SEVERITIES),
        ),
        Option("app_name", "str", _LAYOUT.app_name, "APP-NAME (RFC 5424) or TAG (RFC 3164)."),
        Option("hostname", "str", _LAYOUT.hostname, "HOSTNAME; empty: the record's reporting_host."),
        Option(
            "sd_id", "str", _LAYOUT.sd_id, "SD-ID of the structured data (32473: the documentation number)."
        ),
        Option(
            "sd_fields",
            "list",
            list(_LAYOUT.sd_fields),
            "Record fields copied into structured data.",
        ),
        *tls_verification("receiver"),
        Option("connect_timeout", "duration", 10.0, "Time allowed to connect.", minimum=0.05),
        RECONNECT_MAX,
        TAGS,
        *MODEL_OPTIONS,
    ),
    shape=SyslogOptions,
)
log = logging.getLogger("podship.syslog")


class SyslogOutput:
    name = "syslog"

    def __init__(self, options: SyslogOptions, state_dir: Path | None = None) -> None:
        self.options = options
        self.tags = frozenset(options.tags)
        # MSG is in this model; the header reads the syslog-index record
        # MSG is in this model; the header reads the syslog-index record
        self.render = renderer(options.schema, options.original)
        self.layout = _layout(options)
        self.framing = "octet_counting" if options.mode == "tls" else options.framing
        self.reconnect_max = options.reconnect_max
        self._pid = os.getpid()
        self._writer: asyncio.StreamWriter | None = None
        self._udp: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        if self.options.mode == "tls" and not self.options.tls_verify:
            log.warning("TLS verification is OFF for the syslog receiver %s", self.options.host)

    def encode(self, event: Event) -> Encoded:
        """One message: a datagram (UDP) or a framed message on the stream."""
        udp = self.options.mode == "udp"
        limit = self.options.udp_max_bytes if udp else self.options.max_message_bytes
        data = syslog.message(records.header(event), self.layout, self._pid, limit, self.render(event))
        return Encoded(data if udp else syslog.frame(data, self.framing))

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        """Over TCP and TLS a broken connection is closed, so that the next attempt reconnects and
        sends the whole batch again (at-least-once)."""
        if self.options.mode == "udp":
            await self._datagrams(batch)
            return
        try:
            await self._stream_write(b"".join([message.data for message in batch]))
        except StreamError:
            self._close_stream()
            raise

    async def _stream_write(self, payload: bytes) -> None:
        with mapped(f"{self.options.host}:{self.options.port}"):
            writer = self._writer or await self._connect()
            writer.write(payload)
            await writer.drain()

    async def _connect(self) -> asyncio.StreamWriter:
        opening = asyncio.open_connection(self.options.host, self.options.port, ssl=self._tls())
        _, writer = await asyncio.wait_for(opening, self.options.connect_timeout)
        self._writer = writer
        return writer

    async def _datagrams(self, batch: list[Encoded]) -> None:
        if self._udp is None:
            loop = asyncio.get_running_loop()
            with mapped(f"{self.options.host}:{self.options.port}"):
                self._udp, _ = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, remote_addr=(self.options.host, self.options.port)
                )
        for datagram in batch:
            self._udp.sendto(datagram.data)

    def _tls(self) -> ssl.SSLContext | None:
        if self.options.mode != "tls":
            return None
        return client_context(self.options.tls_ca_file, verify=self.options.tls_verify)

    def _close_stream(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def close(self) -> None:
        writer = self._writer
        self._close_stream()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self._udp is not None:
            self._udp.close()
            self._udp = None


def _layout(options: SyslogOptions) -> syslog.Layout:
    return syslog.Layout(
        format=options.format,
        facility=options.facility,
        severity=options.severity,
        app_name=options.app_name,
        hostname=options.hostname,
        sd_id=options.sd_id,
        sd_fields=options.sd_fields,
    )


PLUGIN = Plugin("syslog", "outputs", OPTIONS, lambda site, options: SyslogOutput(options, site.state_dir))
