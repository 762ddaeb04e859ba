"""`podship test` against the simulator: one line per connector, what failed and what to check."""

import asyncio
import sys
import time

from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults
from tests.helpers import write_pipeline
from tests.pipes import connector
from tests.proxy import ConnectProxy

LINE = Timeline(rates={"message": 20.0, "maillog": 20.0, "audit": 1.0})


async def podship_test(tmp_path, inputs, *args):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_pipeline(tmp_path / "p.yaml", inputs, service={"state_dir": str(tmp_path / "state")})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podship",
        "test",
        "-c",
        str(path),
        "--wait",
        "1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"POD_API_KEY": "sim-token", "PATH": "/usr/bin:/bin"},
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_a_reachable_connector_passes_and_no_state_is_written(simulator, tmp_path):
    sim = await simulator(timeline=LINE)
    code, out, _ = await podship_test(tmp_path, [connector(sim, "message"), connector(sim, "maillog")])
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("acme-message: ok: authenticated in ")
    assert lines[1].startswith("acme-maillog: ok: authenticated in ")
    assert not (tmp_path / "state").exists()
    assert "sim-token" not in out


async def test_each_refusal_says_what_it_means_and_exits_3(simulator, tmp_path):
    cases = [
        (
            {"tokens": {"other": "acme_hosted"}},
            {},
            "HTTP 401: Unauthorized",
            "Are they expired, or not licensed for Remote Syslog?",
        ),
        ({}, {"cluster_id": "wrong"}, "HTTP 401: Unauthorized", "Did you enter your credentials correctly?"),
        (
            {"faults": Faults(refuse_count=1, refuse_status=409)},
            {},
            "HTTP 409: Conflict",
            "same key and type",
        ),
        (
            {"faults": Faults(refuse_count=1, refuse_status=429)},
            {},
            "HTTP 429: Too Many Requests",
            "licensing",
        ),
        ({"faults": Faults(refuse_count=1, refuse_status=503)}, {}, "HTTP 503: Server Error", "retries"),
        ({"faults": Faults(refuse_count=1, refuse_status=403)}, {}, "HTTP 403: Forbidden", "permissions"),
        (
            {"faults": Faults(refuse_count=1, refuse_status=400)},
            {},
            "HTTP 400: Bad Request",
            "Did you configure the connector correctly?",
        ),
        (
            {"faults": Faults(refuse_count=1, refuse_status=405)},
            {},
            "HTTP 405: Method Not Allowed",
            "proxy rewriting",
        ),
    ]
    for number, (sim_options, overrides, status, check) in enumerate(cases):
        sim = await simulator(timeline=LINE, **sim_options)
        code, out, _ = await podship_test(tmp_path / str(number), [connector(sim, "message", **overrides)])
        assert code == 3, out
        assert out.startswith(f"acme-message: FAILED: {status}"), out
        assert check in out
    sim = await simulator(timeline=LINE)
    code, out, _ = await podship_test(
        tmp_path / "404", [connector(sim, "message", url=sim.url.replace("/v1/", "/v9/"))]
    )
    assert (code, out.split(": ")[2]) == (3, "HTTP 404")


async def test_unreachable_and_untrusted_servers_get_a_hint(simulator, tmp_path, authority):
    sim = await simulator(timeline=LINE)
    port, entry = sim.url.split(":")[2].split("/")[0], connector(sim, "message")
    await sim.stop()
    code, out, _ = await podship_test(tmp_path / "down", [entry])
    assert code == 3
    assert f"cannot connect to 127.0.0.1:{port}" in out
    assert "can this host reach it" in out
    server = authority.server()
    tls_sim = await simulator(timeline=LINE, ssl_context=server)
    code, out, _ = await podship_test(tmp_path / "tls", [connector(tls_sim, "message")])
    assert code == 3
    assert "CERTIFICATE_VERIFY_FAILED" in out and "tls_ca_file" in out


async def test_only_the_named_connector(simulator, tmp_path):
    sim = await simulator(timeline=LINE)
    code, out, _ = await podship_test(
        tmp_path, [connector(sim, "message"), connector(sim, "maillog")], "--connector", "acme-maillog"
    )
    assert code == 0
    assert out.splitlines() == [line for line in out.splitlines() if line.startswith("acme-maillog: ok")]
    code, out, err = await podship_test(tmp_path / "x", [connector(sim, "message")], "--connector", "nope")
    assert code == 2  # a usage error, like an unknown option
    assert "no connector named 'nope'; the file has: acme-message" in err


async def test_through_an_http_connect_proxy(simulator, tmp_path):
    proxy = await ConnectProxy().start()
    sim = await simulator(timeline=LINE)
    code, out, _ = await podship_test(tmp_path, [connector(sim, "message", proxy=proxy.url)])
    proxy.stop()
    assert code == 0, out
    assert out.startswith("acme-message: ok")
    # Two sessions: the simulator's clock is not the host's (see the test below).
    assert set(proxy.tunnels) == {sim.url.split("/")[2]}
    assert set(proxy.methods) == {b"CONNECT"}


async def test_the_hour_asked_for_is_the_one_before_the_servers_clock(simulator, tmp_path):
    """The simulator's clock is weeks away from the host's, as a skewed host's would be: the test
    learns the server's from the handshake's Date and asks for the hour before it, which holds events."""
    sim = await simulator(timeline=LINE, release_secs=1.0)
    assert abs(sim.clock.now() - time.time() * 1000) > 24 * 3600_000
    code, out, _ = await podship_test(tmp_path, [connector(sim, "message"), connector(sim, "maillog")])
    assert code == 0, out
    for line in out.splitlines():
        assert "; first event after " in line, line
