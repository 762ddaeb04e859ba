"""Every command, fed what a new user might type: one line naming the mistake, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.helpers import write_pipeline

KEY = "no-traceback-test-key-41c2"


def connector(**overrides):
    entry = {"name": "proofpoint_pod", "cluster_id": "acme_hosted", "api_key": "${POD_API_KEY}"}
    return {**entry, **overrides}


def podship(*args, env_key=KEY, timeout=60):
    env = {"PATH": "/usr/bin:/bin", "POD_API_KEY": env_key}
    return subprocess.run(
        [sys.executable, "-m", "podship", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def busy_port():
    """A port that something else already listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _pipelines(tmp_path, busy):
    """(name, pipeline file, commands): each a mistake `check` or a start must name in one line."""
    (tmp_path / "a-file").write_text("")
    cases = {
        **{
            f"http_listen {listen}": ({"http_listen": listen}, [connector()], [])
            for listen in ("abc", "127.0.0.1:", "127.0.0.1:70000", "[::1]:", "no-such-host.invalid:2021")
        },
        "http_listen in use": ({"http_listen": f"127.0.0.1:{busy}"}, [connector()], ["run", "run --once"]),
        "state_dir under a file": ({"state_dir": "a-file/state"}, [connector()], []),
        "missing CA file": ({}, [connector(tls_ca_file="nope.pem")], []),
        "backfill without a unit": ({}, [connector(backfill=7)], []),
        "backfill too long": ({}, [connector(backfill="40d")], []),
        "literal key": ({}, [connector(api_key="pasted-key")], []),
        "relay port in use": ({}, [{"name": "forward", "port": busy}], ["relay"]),
    }
    for number, (name, (service, inputs, commands)) in enumerate(cases.items()):
        settings = {"state_dir": str(tmp_path / "state"), **service}
        path = write_pipeline(tmp_path / f"case-{number}.yaml", inputs, service=settings)
        yield name, path, commands


def test_no_command_shows_a_traceback(tmp_path, busy_port):
    results = []
    for name, path, commands in _pipelines(tmp_path, busy_port):
        for command in commands or ["check", "run", "run --once"]:
            result = podship(*command.split(), "-c", str(path))
            results.append((f"{command}: {name}", result))
            assert result.returncode == 2, (command, name, result.stderr)
            assert result.stderr.count("\n") == 1, (command, name, result.stderr)
            assert f"podship: configuration error: {path}: plugin " in result.stderr
    path = write_pipeline(tmp_path / "good.yaml", [connector()], service={"state_dir": str(tmp_path)})
    results.append(("empty key", podship("check", "-c", str(path), env_key="")))
    results.append(("no such connector", podship("test", "-c", str(path), "--connector", "nosuch")))
    results.append(("unknown plugin", podship("options", "nosuch")))
    results.append(("missing file", podship("run", "-c", str(tmp_path / "absent.yaml"))))
    results.append(("demo 0 s", podship("demo", "--seconds", "0")))
    results.append(("rules check of a missing file", podship("rules", "check", str(tmp_path / "x.yaml"))))
    results.append(("simulate on a busy port", podship("simulate", "--port", str(busy_port))))
    for name, result in results:
        assert "Traceback" not in result.stdout + result.stderr, name
        assert result.returncode == 2, (name, result.stderr)


def test_status_without_a_running_podship_is_one_line(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write_pipeline(tmp_path / "p.yaml", [connector()], service={"http_listen": f"127.0.0.1:{port}"})
    result = podship("status", "-c", str(path), env_key="")
    assert result.returncode == 1
    assert result.stderr.startswith(f"podship status: no podship answers on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr


def test_options_into_a_reader_that_stops_early():
    result = subprocess.run(
        f"{sys.executable} -m podship options --markdown | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == "#### `service` (service)\n"
    assert result.stderr == ""


async def test_the_simulators_ids_endpoint_without_parameters_says_what_it_needs(simulator):
    sim = await simulator()
    base = sim.url.replace("ws://", "http://").rsplit("/v1/", 1)[0]
    for query in ("", "?type=message", "?type=message&since=x&until=1"):
        with pytest.raises(urllib.error.HTTPError) as answer:
            await _get(f"{base}/_sim/ids{query}")
        assert answer.value.code == 400
        assert b"expected /_sim/ids?type=" in answer.value.read() or query.endswith("until=1")


async def _get(url):
    import asyncio

    return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
