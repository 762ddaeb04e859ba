"""Real Fluent Bit and Fluentd processes on loopback, run from the shipped configuration files
adapted only in ports and paths, and what they printed, counted by event id."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
KEY = "interop-shared-key"
FLUENT_BIT = os.environ.get("FLUENT_BIT", "")
FLUENTD = os.environ.get("FLUENTD", "")
needs_fluent_bit = pytest.mark.skipif(
    not FLUENT_BIT, reason="set FLUENT_BIT to a fluent-bit binary to run this against the real thing"
)
needs_fluentd = pytest.mark.skipif(
    not FLUENTD,
    reason="set FLUENTD to a fluentd launcher (`$FLUENTD -c FILE`) to run this against the real thing",
)
EVENT_ID = re.compile(r'"event_id"(?:=>|:)\s*"(interop-[^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def event_ids(path: Path) -> Counter[str]:
    """Event ids in what a collector printed (Fluent Bit's `"k"=>"v"`, Fluentd's JSON)."""
    return Counter(EVENT_ID.findall(path.read_text(errors="replace"))) if path.exists() else Counter()


async def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the collector exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A collector in its own process group, stopped (TERM, then KILL) at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def fluent_bit_yaml(name: str, tmp: Path, port: int, **paths: str) -> Path:
    """configs/fluent-bit/NAME with its forward input on `port` and storage and TLS files under `tmp`."""
    document = yaml.safe_load((CONFIGS / "fluent-bit" / name).read_text())
    document["service"]["storage.path"] = str(tmp / "fb-storage")
    for plugin in document["pipeline"]["inputs"]:
        plugin.update({"port": port, "listen": "127.0.0.1"})
        plugin.update({key: value for key, value in paths.items() if key in plugin})
    path = tmp / f"fb-{port}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def fluent_bit_classic(name: str, tmp: Path, port: int) -> Path:
    text = (CONFIGS / "fluent-bit" / name).read_text()
    text = re.sub(r"(?m)^(\s*Port\s+)\d+", rf"\g<1>{port}", text)
    text = re.sub(r"(?m)^(\s*storage\.path\s+)\S+", rf"\g<1>{tmp / 'fb-storage'}", text)
    path = tmp / f"fb-{port}.conf"
    path.write_text(text)
    return path


def fluentd_conf(name: str, tmp: Path, ports: dict[int, int], prefix: str = "") -> Path:
    """configs/fluentd/NAME with its ports renumbered, after `prefix` (a source, when it has none)."""
    text = (CONFIGS / "fluentd" / name).read_text()
    for old, new in ports.items():
        text = re.sub(rf"(?m)^(\s*port\s+){old}\b", rf"\g<1>{new}", text)
    path = tmp / f"fluentd-{min(ports.values())}.conf"
    path.write_text("<system>\n  workers 1\n</system>\n" + prefix + text)
    return path


def records(run: str, count: int) -> list[dict[str, Any]]:
    """Records with unique event ids; the text has non-ASCII on purpose."""
    base = 1716405003058
    return [
        {"event_id": f"interop-{run}-{n}", "event_type": "message", "timestamp": base + n, "text": "héllo ✓"}
        for n in range(count)
    ]


async def until_counted(path: Path, expected: set[str], timeout: float = 60) -> Counter[str]:
    """What the collector printed, once every expected id is there (or at the timeout), plus 2 s to
    let any duplicate show up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not expected <= set(event_ids(path)):
        await asyncio.sleep(0.25)
    await asyncio.sleep(2)
    return event_ids(path)
