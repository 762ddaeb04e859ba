"""A private Prometheus (Debian's `prometheus` package) scraping a podship child process that reads
the simulator; and the shipped dashboard's queries, with Grafana's variables given fixed values.

Used by tests/test_prometheus.py and by tests/dashboard_picture.py (the README's picture).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml

from tests.helpers import write_pipeline
from tests.pipes import KEY, connector, run_podship

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "configs/grafana/podship.json"
ALERTS = ROOT / "configs/prometheus/podship-alerts.yaml"
SCRAPE_SECS = 1  # Prometheus's knob, not podship's: a short interval gives rates within seconds
# Grafana's built-in intervals, fixed: a rate window of several scrapes, as $__rate_interval is.
INTERVALS = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "60s"}


def binary(name: str) -> str:
    """`prometheus` or `promtool`; missing, the test is skipped (CI installs them: an error there)."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError(f"{name} is missing: .ci/run installs it (apt-get install prometheus)")
        pytest.skip(f"{name} is not installed (Debian package prometheus); CI runs these tests")
    return found


def promtool(*args: str, **options) -> subprocess.CompletedProcess:
    """`promtool ARGS`, its output captured; the caller asserts on the exit code and says why."""
    return subprocess.run(
        [binary("promtool"), *args], check=False, capture_output=True, timeout=60, **options
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dashboard_targets() -> list[tuple[str, str, str]]:
    """(panel title, legend, expression) of every query of the shipped dashboard."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["legendFormat"], t["expr"]) for p in panels for t in p["targets"]]


def substitute(expr: str, values: dict[str, str]) -> str:
    """An expression as Grafana sends it: multi-value variables as a regex group of escaped values."""
    for name in ("instance", "connector"):
        escaped = (value.replace(".", "\\\\.") for value in values[name].split("|"))
        expr = expr.replace(f"${name}", "(" + "|".join(escaped) + ")")
    for variable, value in INTERVALS.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a variable the test does not know: {expr}"
    return expr


def api(base: str, path: str, **params: str) -> list:
    """GET a Prometheus API path (blocking: call it in a thread) and return its `data`."""
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}{path}?{query}", timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return answer["data"]


class Stack:
    """The processes of one run: their addresses and their logs."""

    def __init__(self, folder: Path, sim, kinds: tuple[str, ...]) -> None:
        self.folder, self.sim, self.kinds = folder, sim, kinds
        self.target = f"127.0.0.1:{free_port()}"
        self.base = f"http://127.0.0.1:{free_port()}"
        self.variables = {"instance": self.target, "connector": "|".join(f"acme-{k}" for k in kinds)}

    async def query(self, expr: str, **params: str) -> list:
        """An instant (or, with start/end/step, a range) query, the results of its series."""
        path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
        data = await asyncio.to_thread(api, self.base, path, query=expr, **params)
        return list(data["result"])

    def logs(self) -> str:
        """The ends of podship's and Prometheus's logs, for a failure message."""
        tails = [f"--- {name}\n" + _tail(self.folder / name) for name in ("podship.err", "prometheus.log")]
        return "\n".join(tails)


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _prometheus_config(stack: Stack) -> dict:
    return {
        "global": {"scrape_interval": f"{SCRAPE_SECS}s", "evaluation_interval": f"{SCRAPE_SECS}s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "podship", "static_configs": [{"targets": [stack.target]}]}],
    }


async def _start_podship(stack: Stack) -> asyncio.subprocess.Process:
    """podship as an operator runs it: shipped defaults, but for a short backfill and the listener."""
    inputs = [connector(stack.sim, kind) for kind in stack.kinds]
    service = {"state_dir": str(stack.folder / "state"), "http_listen": stack.target}
    path = write_pipeline(stack.folder / "podship.yaml", inputs, service=service)
    with (stack.folder / "podship.out").open("wb") as out, (stack.folder / "podship.err").open("wb") as err:
        return await run_podship(path, KEY, out, err)  # the child keeps its own copies of both


async def _start_prometheus(stack: Stack) -> asyncio.subprocess.Process:
    (stack.folder / "prometheus.yml").write_text(yaml.safe_dump(_prometheus_config(stack)))
    command = [
        binary("prometheus"),
        f"--config.file={stack.folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={stack.folder / 'tsdb'}",
        f"--web.listen-address={stack.base.removeprefix('http://')}",
    ]
    with (stack.folder / "prometheus.log").open("wb") as log:
        return await asyncio.create_subprocess_exec(*command, stdout=log, stderr=log)


async def _ready(stack: Stack, timeout: float) -> None:
    """Prometheus answers and has scraped podship once; a timeout fails with both logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if [s for s in await stack.query('up{job="podship"}') if s["value"][1] == "1"]:
                return
        except OSError:  # not listening yet
            pass
        await asyncio.sleep(0.5)
    raise AssertionError(f"Prometheus did not scrape podship within {timeout:g}s\n{stack.logs()}")


async def _stop(process: asyncio.subprocess.Process, timeout: float = 30.0) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"process {process.pid} did not stop within {timeout:g}s on SIGTERM") from None


@asynccontextmanager
async def running(folder: Path, sim, kinds: tuple[str, ...] = ("message", "maillog")):
    """podship and Prometheus, started and stopped; podship must exit 0 on SIGTERM."""
    folder.mkdir(parents=True, exist_ok=True)
    stack = Stack(folder, sim, kinds)
    podship = await _start_podship(stack)
    try:
        prometheus = await _start_prometheus(stack)
        try:
            await _ready(stack, timeout=60)
            yield stack
        finally:
            await _stop(prometheus)
    finally:
        code = await _stop(podship)
    assert code == 0, f"podship exited {code}\n{stack.logs()}"
