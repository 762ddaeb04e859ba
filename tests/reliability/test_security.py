"""Secrets stay secret; TLS verification is on unless turned off loudly; state is owner-only.

The real podship process runs against the simulator with junk frames (dead letters), a status
server, `podship check`, `podship test`, and a wrong key; then every stream and every file it
produced, its command line, and its status pages are scanned for the key.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

from podship.core.pod import HOUR_MS
from podship.devtools.simulator import Faults
from podship.engine.registry import all_tables
from tests.helpers import write_pipeline
from tests.pipes import connector
from tests.reliability.common import KEY, KINDS, FileLedger, Podship, timeline, wait_for


async def test_the_api_key_appears_nowhere(simulator, tmp_path):
    line = timeline(seed=101)
    sim = await simulator(
        timeline=line,
        start_ms=line.epoch_ms + 3 * HOUR_MS,
        faults=Faults(bad_every=50),
        tokens={KEY: "acme_hosted"},
    )
    podship = Podship(tmp_path, sim, http_listen="127.0.0.1:18931", log_level="debug")
    ledger = FileLedger(podship.stdout)
    await podship.start()
    await wait_for(lambda: len(ledger.read()) > 500, 60, "records")
    cmdline = Path(f"/proc/{podship.process.pid}/cmdline").read_bytes()
    pages = [
        await asyncio.to_thread(_get, f"http://127.0.0.1:18931{path}") for path in ("/status", "/metrics")
    ]
    assert await podship.terminate() == 0
    env = {**os.environ, "POD_API_KEY": KEY}
    check = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "podship", "check", "-c", str(podship.config)],
        capture_output=True,
        env=env,
        check=False,
    )
    probe = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "podship", "test", "-c", str(podship.config), "--wait", "2"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    wrong = write_pipeline(
        tmp_path / "wrong.yaml",
        [connector(sim, api_key="${WRONG_POD_KEY}")],
        service={"state_dir": str(tmp_path / "state-wrong")},
    )
    refused = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "podship", "run", "-c", str(wrong)],
        capture_output=True,
        env={**env, "WRONG_POD_KEY": KEY + "-revoked"},
        timeout=60,
        check=False,
    )
    streams = {
        "cmdline": cmdline,
        "status": pages[0],
        "metrics": pages[1],
        "check": check.stdout + check.stderr,
        "test": probe.stdout + probe.stderr,
        "wrong key run": refused.stdout + refused.stderr,
    }
    files = {
        str(path): path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file() and path.name != "wrong.yaml"
    }
    letters = [name for name in files if name.endswith("deadletter.jsonl")]
    print(
        f"[secrets] scanned {len(streams)} streams and {len(files)} files ({len(letters)} dead-letter files)"
    )
    assert letters, "junk frames were dead-lettered"
    assert refused.returncode == 1 and b"401" in refused.stderr
    for name, data in {**streams, **files}.items():
        if name == str(podship.config):
            continue  # the pipeline file names ${POD_API_KEY}, not the key
        assert KEY.encode() not in data, f"the API key leaked into {name}"


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_tls_verification_is_on_by_default_everywhere():
    verify = {
        (table.plugin, option.name): option.default
        for table in all_tables()
        for option in table.options
        if option.name == "tls_verify"
    }
    assert len(verify) >= 3, verify  # the PoD input, forward and syslog
    assert all(default is True for default in verify.values()), verify


async def test_state_and_dead_letters_are_owner_only(simulator, tmp_path):
    line = timeline(seed=111)
    sim = await simulator(
        timeline=line,
        start_ms=line.epoch_ms + 2 * HOUR_MS,
        faults=Faults(bad_every=40),
        tokens={KEY: "acme_hosted"},
    )
    podship = Podship(tmp_path, sim)
    ledger = FileLedger(podship.stdout)
    await podship.start()
    await wait_for(lambda: len(ledger.read()) > 300, 60, "records")
    assert await podship.terminate() == 0
    state = tmp_path / "state"
    entries = [state, *state.rglob("*")]
    assert any(path.name == "deadletter.jsonl" for path in entries)
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"
    assert {f"acme-{kind}" for kind in KINDS} <= {path.name for path in entries}
