"""`podship test`: can each connector reach PoD and authenticate? One line per connector.

It asks for the last hour's archive (by the server's clock) rather than the live stream: a live
session would move the server's live resume point, and a running podship could then lose the
events in between. It opens no checkpoint and writes none.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosedOK

from podship.core.pod import HOUR_MS, floor_hour, stream_url
from podship.engine.settings import PipelineConfig
from podship.errors import HandshakeError, PodshipError
from podship.inputs.proofpoint import ProofpointInput, ProofpointOptions

_HINTS = {
    "CERTIFICATE_VERIFY_FAILED": "Is tls_ca_file right, or is a TLS-intercepting proxy in the way?",
    "Connect call failed": "Is the URL right, and can this host reach it (firewall, proxy)?",
    "Name or service not known": "Is the host name in the URL right?",
}


async def probe(options: ProofpointOptions, wait_secs: float) -> tuple[bool, str]:
    """(passed, what happened) for one connector."""
    connector = ProofpointInput(options, Path("/nonexistent"), _discard, check_state=False)
    try:
        opened, first = await _last_hour(connector, options, wait_secs)
    except HandshakeError as exc:
        return False, f"FAILED: {exc}"
    except PodshipError as exc:
        hint = next(
            (text for marker, text in _HINTS.items() if marker in str(exc)), "Check the URL and the network."
        )
        return False, f"FAILED: {exc} {hint}"
    return True, f"ok: authenticated in {opened:.2f}s; {first}"


async def _last_hour(
    connector: ProofpointInput, options: ProofpointOptions, wait_secs: float
) -> tuple[float, str]:
    """Asks for the hour before the host's clock; the handshake's `Date` tells the server's, and
    when that names another hour (a skewed host, the simulator) the test asks for that one."""
    started = time.monotonic()
    url = _hour_before(options, int(time.time() * 1000))
    async with connector.open_stream(url) as connection:
        opened = time.monotonic() - started
        right = _hour_before(options, connector.server_now())
        if right == url:
            return opened, await _first(connection, wait_secs)
    return opened, await _again(connector, right, options.release_wait, wait_secs)


async def _again(connector: ProofpointInput, url: str, release_secs: float, wait_secs: float) -> str:
    """The second session: a 409 within `release_wait` is the server releasing the first."""
    deadline = time.monotonic() + release_secs
    while True:
        try:
            async with connector.open_stream(url) as connection:
                return await _first(connection, wait_secs)
        except HandshakeError as exc:
            if exc.status != 409 or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def _hour_before(options: ProofpointOptions, now: int) -> str:
    hour = floor_hour(now) - HOUR_MS
    return stream_url(options.url, options.cluster_id, options.type, hour, hour + HOUR_MS)


async def _first(connection: Any, wait_secs: float) -> str:
    started = time.monotonic()
    try:
        await asyncio.wait_for(connection.recv(), wait_secs)
    except ConnectionClosedOK:
        return "the archive of the last hour is empty"
    except TimeoutError:
        return f"no event within {wait_secs:g}s"
    return f"first event after {time.monotonic() - started:.2f}s"


async def _discard(item: Any) -> None:
    return None


async def run(config: PipelineConfig, only: str, wait_secs: float) -> int:
    """Prints one line per connector; 0 when every one passed, else 3."""
    chosen = [
        (p.alias, p.values)
        for p in config.inputs
        if isinstance(p.values, ProofpointOptions) and only in ("", p.alias)
    ]
    if not chosen:
        print(
            f"podship test: no connector named {only!r}" if only else "podship test: no proofpoint_pod input"
        )
        return 3
    results = await asyncio.gather(*(probe(options, wait_secs) for _, options in chosen))
    for (alias, _), (_, line) in zip(chosen, results, strict=True):
        print(f"{alias}: {line}")
    return 0 if all(passed for passed, _ in results) else 3
