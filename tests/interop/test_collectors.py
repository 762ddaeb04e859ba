"""podship against the real collectors, on loopback: every Forward wiring of issue 17 and of configs/.

Runs when `FLUENT_BIT` (a fluent-bit binary) and `FLUENTD` (a command run as `$FLUENTD -c FILE`)
are set, and skips otherwise (CI has neither; the recorded transcripts in tests/fixtures/forward/
cover the codec there). The collectors run from the shipped files, adapted in ports and paths only,
except where a wiring needs a knob the file does not have (said at each test). Shipped timing
defaults throughout. Each test sends records with unique event ids and asserts that every one
arrived exactly once: nothing missing, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from podship.engine import config
from podship.engine.delivery import Delivery
from podship.outputs.forward import ForwardOutput
from podship.runtime.options import Secret
from tests.helpers import as_event
from tests.interop.collectors import (
    CONFIGS,
    FLUENT_BIT,
    FLUENTD,
    KEY,
    event_ids,
    fluent_bit_classic,
    fluent_bit_yaml,
    fluentd_conf,
    free_port,
    needs_fluent_bit,
    needs_fluentd,
    records,
    running,
    until_counted,
    wait_for_port,
)

COUNT = 300
ENV = {"POD_API_KEY": "unused", "FORWARD_SHARED_KEY": KEY}


def podship_output(name: str, tmp: Path, port: int, **changes: Any) -> ForwardOutput:
    """The forward output of the shipped podship file NAME, pointed at 127.0.0.1:`port`."""
    (output,) = config.load(str(CONFIGS / name), ENV).outputs
    return ForwardOutput(replace(output.values, host="127.0.0.1", port=port, **changes))


async def deliver(output: ForwardOutput, batch: list[dict[str, Any]]) -> None:
    """The records as events whose syslog-index record they are, 50 at a time."""
    for start in range(0, len(batch), 50):
        await Delivery(output).deliver([as_event(record) for record in batch[start : start + 50]])
    await output.close()


def assert_exactly_once(seen: Any, sent: list[dict[str, Any]]) -> None:
    expected = {record["event_id"] for record in sent}
    missing, twice = expected - set(seen), {key for key, count in seen.items() if count > 1}
    assert not missing and not twice, f"{len(missing)} missing, {len(twice)} twice"
    assert set(seen) == expected


@pytest.fixture
def certificate(tmp_path: Path) -> dict[str, str]:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    issued.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    return {name: str(tmp_path / name) for name in ("ca.pem", "server.crt", "server.key")}


async def through_fluent_bit(tmp: Path, file: Path, port: int, output: ForwardOutput, run: str) -> None:
    log = tmp / f"fluent-bit-{port}.log"
    with running([FLUENT_BIT, "-c", str(file)], log, env={"FORWARD_SHARED_KEY": KEY}) as process:
        await wait_for_port(port, process, log)
        sent = records(run, COUNT)
        await asyncio.wait_for(deliver(output, sent), 120)
        assert_exactly_once(await until_counted(log, {r["event_id"] for r in sent}), sent)


@needs_fluent_bit
@pytest.mark.parametrize("file", ["forward.yaml", "forward.conf"])
async def test_podship_forward_with_acks_into_fluent_bit(tmp_path, file):
    port = free_port()
    adapted = (fluent_bit_yaml if file.endswith("yaml") else fluent_bit_classic)(file, tmp_path, port)
    output = podship_output("podship-forward.yaml", tmp_path, port)
    await through_fluent_bit(tmp_path, adapted, port, output, f"fb-{file}")


def tls_files(certificate: dict[str, str]) -> dict[str, str]:
    return {"tls.crt_file": certificate["server.crt"], "tls.key_file": certificate["server.key"]}


@needs_fluent_bit
@pytest.mark.parametrize("shared_key", [True, False], ids=["shared-key", "no-shared-key"])
async def test_podship_forward_tls_into_fluent_bit(tmp_path, certificate, shared_key):
    """forward-tls.yaml and podship-forward-tls.yaml as shipped; without the key, both drop it."""
    port = free_port()
    adapted = fluent_bit_yaml("forward-tls.yaml", tmp_path, port, **tls_files(certificate))
    keyless = {} if shared_key else {"shared_key": None}
    output = podship_output(
        "podship-forward-tls.yaml", tmp_path, port, tls_ca_file=certificate["ca.pem"], **keyless
    )
    if not shared_key:
        _drop_shared_key(adapted)
    await through_fluent_bit(tmp_path, adapted, port, output, f"fb-tls-{shared_key}")


def _drop_shared_key(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    for plugin in document["pipeline"]["inputs"]:
        plugin.pop("shared_key"), plugin.pop("self_hostname")
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _with_key(path: Path, users: bool) -> None:
    """forward.yaml with forward-tls.yaml's shared key (and a user): secure forward without TLS."""
    document = yaml.safe_load(path.read_text())
    (plugin,) = document["pipeline"]["inputs"]
    plugin.update({"shared_key": "${FORWARD_SHARED_KEY}", "self_hostname": "fluent-bit.example"})
    if users:
        plugin["security.users"] = "podship interop-password"
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@needs_fluent_bit
@pytest.mark.parametrize("users", [False, True], ids=["key", "key-and-user"])
async def test_podship_forward_shared_key_without_tls_into_fluent_bit(tmp_path, users):
    port = free_port()
    adapted = fluent_bit_yaml("forward.yaml", tmp_path, port)
    _with_key(adapted, users)
    user = {"username": "podship", "password": Secret("interop-password")} if users else {}
    output = podship_output("podship-forward-tls.yaml", tmp_path, port, tls=False, **user)
    await through_fluent_bit(tmp_path, adapted, port, output, f"fb-key-{users}")


@needs_fluent_bit
async def test_a_wrong_key_is_refused_by_fluent_bit_and_reported_as_such(tmp_path, caplog):
    port = free_port()
    adapted = fluent_bit_yaml("forward.yaml", tmp_path, port)
    _with_key(adapted, users=False)
    output = podship_output("podship-forward-tls.yaml", tmp_path, port, tls=False, shared_key=Secret("wrong"))
    log = tmp_path / "fluent-bit.log"
    with running([FLUENT_BIT, "-c", str(adapted)], log, env={"FORWARD_SHARED_KEY": KEY}) as process:
        await wait_for_port(port, process, log)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(Delivery(output).deliver([as_event(r) for r in records("wrong", 5)]), 5)
    assert output.refused_handshakes >= 2
    assert "shared_key mismatch" in log.read_text()
    assert any("rejected the shared key or hostname" in r.getMessage() for r in caplog.records)
    assert not event_ids(log)


SECURITY = "  <security>\n    self_hostname fluentd.example\n    shared_key {key}\n  </security>\n"


@needs_fluentd
@pytest.mark.parametrize("secure", [False, True], ids=["plain", "shared-key"])
async def test_podship_forward_into_fluentd(tmp_path, secure):
    port = free_port()
    adapted = fluentd_conf("in_forward.conf", tmp_path, {24224: port})
    if secure:  # in_forward.conf plus Fluentd's <security> section
        adapted.write_text(adapted.read_text().replace("</source>", SECURITY.format(key=KEY) + "</source>"))
    name = "podship-forward-tls.yaml" if secure else "podship-forward.yaml"
    output = podship_output(name, tmp_path, port, tls=False)
    log = tmp_path / "fluentd.log"
    with running([FLUENTD, "-c", str(adapted)], log) as process:
        await wait_for_port(port, process, log)
        sent = records(f"fluentd-{secure}", COUNT)
        await asyncio.wait_for(deliver(output, sent), 120)
        assert_exactly_once(await until_counted(log, {r["event_id"] for r in sent}), sent)


class SyslogReceiver:
    """Where podship-relay.yaml's syslog output goes: a TCP listener that keeps every byte."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> SyslogReceiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        with self.path.open("ab") as out, contextlib.suppress(ConnectionError):
            while data := await reader.read(1 << 16):
                out.write(data)
                out.flush()
        writer.close()
        self.writers.discard(writer)


def relay_file(tmp: Path, port: int, syslog_port: int, **input_options: Any) -> Path:
    """configs/podship-relay.yaml with its ports, state and rules paths adapted (and, for the
    secure wirings, the forward input's shared_key)."""
    document = yaml.safe_load((CONFIGS / "podship-relay.yaml").read_text())
    document["service"]["state_dir"] = str(tmp / "relay-state")
    document["pipeline"]["inputs"][0].update({"port": port, **input_options})
    for plugin in document["pipeline"]["filters"]:
        plugin["rules_file"] = str(Path(CONFIGS, plugin["rules_file"]))  # relative to the file
    document["pipeline"]["outputs"][0]["port"] = syslog_port
    path = tmp / "relay.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


async def through_relay(tmp: Path, sender: list[str], ports: tuple[int, int], secure: bool, run: str) -> None:
    """podship forward -> the collector `sender` on ports[0] -> its out_forward -> relay on ports[1]."""
    sender_port, relay_port = ports
    syslog = await SyslogReceiver(tmp / "syslog.bin").start()
    key = {"shared_key": KEY, "self_hostname": "relay.example"} if secure else {}
    relay = relay_file(tmp, relay_port, syslog.port, **key)
    relay_log, sender_log = tmp / "relay.log", tmp / "sender.log"
    with running([sys.executable, "-m", "podship", "relay", "-c", str(relay)], relay_log, env=ENV) as podship:
        await wait_for_port(relay_port, podship, relay_log)
        with running(sender, sender_log, env={"FORWARD_SHARED_KEY": KEY}) as collector:
            await wait_for_port(sender_port, collector, sender_log)
            sent = records(run, COUNT)
            output = podship_output("podship-forward.yaml", tmp, sender_port)
            await asyncio.wait_for(deliver(output, sent), 120)
            seen = await until_counted(syslog.path, {r["event_id"] for r in sent}, timeout=90)
    await syslog.stop()
    assert_exactly_once(seen, sent)
    refusals = [line for line in relay_log.read_text().splitlines() if "closing a connection" in line]
    assert all("Connection reset" in line for line in refusals), refusals  # only the sender stopping


def fluent_bit_to_relay(tmp: Path, port: int, relay_port: int, secure: bool) -> Path:
    """forward.yaml with its output replaced by out_forward to the relay (no shipped file has one)."""
    path = fluent_bit_yaml("forward.yaml", tmp, port)
    document = yaml.safe_load(path.read_text())
    output = {"name": "forward", "match": "pod.*", "host": "127.0.0.1", "port": relay_port}
    output |= {"require_ack_response": True, "retry_limit": "no_limits"}
    if secure:
        output |= {"shared_key": "${FORWARD_SHARED_KEY}", "self_hostname": "fluent-bit.example"}
    document["pipeline"]["outputs"] = [output]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@needs_fluent_bit
@pytest.mark.parametrize("secure", [False, True], ids=["plain", "shared-key"])
async def test_fluent_bit_out_forward_into_podship_relay(tmp_path, secure):
    port, relay_port = free_port(), free_port()
    sender = [FLUENT_BIT, "-c", str(fluent_bit_to_relay(tmp_path, port, relay_port, secure))]
    await through_relay(tmp_path, sender, (port, relay_port), secure, f"fb-relay-{secure}")


@needs_fluentd
@pytest.mark.parametrize("secure", [False, True], ids=["plain", "shared-key"])
async def test_fluentd_out_forward_with_acks_into_podship_relay(tmp_path, secure):
    """out_forward_to_relay.conf as shipped, after a forward source that podship feeds."""
    port, relay_port = free_port(), free_port()
    source = f"<source>\n  @type forward\n  bind 127.0.0.1\n  port {port}\n</source>\n"
    adapted = fluentd_conf("out_forward_to_relay.conf", tmp_path, {24225: relay_port}, prefix=source)
    if secure:  # plus Fluentd's <security> section, and the relay's shared_key
        text = adapted.read_text().replace("  <server>", SECURITY.format(key=KEY) + "  <server>")
        adapted.write_text(text)
    command = [FLUENTD, "-c", str(adapted)]
    await through_relay(tmp_path, command, (port, relay_port), secure, f"fd-relay-{secure}")
