"""`podship`: run, check, options, simulate, demo.

Exit codes: 0 ok, 1 runtime failure, 2 configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from typing import Any

import yaml

from podship import __version__
from podship.cli import conntest
from podship.cli import rules as rules_cli
from podship.core.pod import HOUR_MS
from podship.devtools import demo
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults, SimOptions, Simulator, real_world_faults
from podship.engine import config, logsetup, preflight, registry, settings, status
from podship.engine.pipeline import Pipeline
from podship.errors import ConfigError
from podship.runtime import options

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigError as exc:
        print(f"podship: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # `podship options | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podship",
        description="Ship Proofpoint on Demand logs into Fluent Bit, Vector, Fluentd and syslog.",
    )
    parser.add_argument("--version", action="version", version=f"podship {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the pipeline of a configuration file")
    run.add_argument("-c", "--config", required=True, help="pipeline file (YAML)")
    run.add_argument(
        "--once",
        action="store_true",
        help="catch up to the present, deliver, save the checkpoint and exit (for cron and exec)",
    )
    run.set_defaults(handler=_run)
    relay = commands.add_parser(
        "relay", help="run a pipeline whose input is a Forward receiver (forward input)"
    )
    relay.add_argument("-c", "--config", required=True, help="pipeline file with a `forward` input")
    relay.set_defaults(handler=_relay)
    check = commands.add_parser(
        "check", help="validate a configuration file and print it with secrets masked"
    )
    check.add_argument("-c", "--config", required=True)
    check.set_defaults(handler=_check)
    test = commands.add_parser("test", help="check that each connector can reach PoD and authenticate")
    test.add_argument("-c", "--config", required=True)
    test.add_argument("--connector", default="", help="only this connector (its alias)")
    test.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a first event")
    test.set_defaults(handler=_test)
    status_cmd = commands.add_parser(
        "status", help="print the status of a running podship (service.http_listen)"
    )
    status_cmd.add_argument("-c", "--config", required=True)
    status_cmd.set_defaults(handler=_status)
    opts = commands.add_parser("options", help="list the options of every plugin, or of one")
    opts.add_argument("plugin", nargs="?")
    opts.add_argument("--markdown", action="store_true", help="as the README's tables")
    opts.set_defaults(handler=_options)
    _simulate_parser(commands)
    demo.add_parser(commands, _serve)
    rules_cli.add_parser(commands)
    return parser


def _simulate_parser(commands: Any) -> None:
    sim = commands.add_parser("simulate", help="serve a local PoD Log API simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--cid", default="acme_hosted", help="cluster id bound to the token")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--speed", type=float, default=1.0, help="simulator seconds per real second")
    sim.add_argument("--rate", type=float, default=1.0, help="multiplier of the default event rates")
    sim.add_argument("--big-every", type=int, default=0, help="every Nth message event is over 1 MiB")
    sim.add_argument("--drop-every", type=int, default=0, help="drop live connections every N frames")
    sim.add_argument("--bad-every", type=int, default=0, help="a junk frame after every N frames")
    sim.add_argument(
        "--cut-after", type=int, default=0, help="end every session after its first N events (no close frame)"
    )
    sim.add_argument("--refuse", type=int, default=0, help="refuse the first N handshakes")
    sim.add_argument("--refuse-status", type=int, default=409)
    sim.add_argument(
        "--start-hours", type=float, default=2.0, help="simulator clock at start, hours after its epoch"
    )
    sim.add_argument("--frame-cache", type=int, default=0, help="keep this many encoded frames (benchmarks)")
    sim.add_argument(
        "--release", type=float, default=0.2, help="seconds a session stays busy (409) after it ends"
    )
    sim.add_argument(
        "--tls", action="store_true", help="serve wss:// with a generated self-signed certificate"
    )
    sim.add_argument(
        "--real-faults",
        action="store_true",
        help="cut connections every 250 frames, 409 for 3 s after every session, refusal storms",
    )
    sim.set_defaults(handler=_simulate)


def _run(args: argparse.Namespace) -> int:
    pipeline_config = _verified(args.config)
    if args.once and any(plugin.name != "proofpoint_pod" for plugin in pipeline_config.inputs):
        raise ConfigError("--once runs proofpoint_pod inputs only", file=args.config, plugin="pipeline")
    return _start(pipeline_config, once=args.once)


def _verified(path: str) -> settings.PipelineConfig:
    """The pipeline file, checked as `podship check` does, with logging set up as it says."""
    pipeline_config = config.load(path)
    preflight.verify(pipeline_config)
    rules_cli.check_pipeline(pipeline_config)
    logsetup.configure(pipeline_config.service.log_level, pipeline_config.service.log_format)
    return pipeline_config


def _start(pipeline_config: settings.PipelineConfig, *, once: bool = False) -> int:
    """Run; a start-up failure (state directory, an address in use) is one line naming the file."""
    try:
        pipeline = Pipeline(pipeline_config, once=once)
        return asyncio.run(_serve(pipeline))
    except ConfigError as exc:
        raise exc.located(file=pipeline_config.file, plugin="service") from None


def _relay(args: argparse.Namespace) -> int:
    pipeline_config = _verified(args.config)
    if not any(plugin.name == "forward" for plugin in pipeline_config.inputs):
        raise ConfigError("podship relay needs a `forward` input", file=args.config, plugin="pipeline")
    return _start(pipeline_config)


async def _serve(pipeline: Pipeline, seconds: float = 0.0) -> int:
    _collect_less()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, pipeline.stop.set)
    loop.add_signal_handler(signal.SIGHUP, pipeline.reload)
    if seconds:
        loop.call_later(seconds, pipeline.stop.set)
    code = await pipeline.run()
    status.stopped(pipeline, code)
    return code


def _collect_less() -> None:
    """Every event parses into ~50 maps and lists that die young; the default threshold (700
    allocations) ran a collection every ~12 events over everything alive. Freezing what start-up
    built and collecting every 20,000 allocations saves ~10% of the CPU per event (wire.py)."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _status(args: argparse.Namespace) -> int:
    listen = config.load_service(args.config).http_listen  # no API key needed for this
    if not listen:
        raise ConfigError(
            "set service.http_listen to read the status",
            file=args.config,
            plugin="service",
            option="http_listen",
        )
    host, port = config.listen_address(listen)
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/status", timeout=5) as response:
            print(response.read().decode().rstrip("\n"))  # a shell prompt after it starts a line
    except OSError as exc:
        print(f"podship status: no podship answers on {listen}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    pipeline_config = config.load(args.config)
    names = [plugin.alias for plugin in pipeline_config.inputs if plugin.name == "proofpoint_pod"]
    if args.connector and args.connector not in names:
        print(
            f"podship test: no connector named {args.connector!r}; "
            f"the file has: {', '.join(names) or 'none'}",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    logsetup.configure("error")
    return asyncio.run(conntest.run(pipeline_config, args.connector, args.wait))


def _check(args: argparse.Namespace) -> int:
    pipeline_config = config.load(args.config)
    preflight.verify(pipeline_config)
    rules_cli.check_pipeline(pipeline_config)
    print(yaml.safe_dump(config.masked(pipeline_config), sort_keys=False), end="")
    print(f"podship: {args.config} is valid", file=sys.stderr)
    return EXIT_OK


def _options(args: argparse.Namespace) -> int:
    tables = [t for t in registry.all_tables() if args.plugin in (None, t.plugin)]
    if not tables:  # a usage error, like an unknown connector of `podship test`
        names = ", ".join(dict.fromkeys(t.plugin for t in registry.all_tables()))
        print(f"podship options: no plugin named {args.plugin!r}; the plugins: {names}", file=sys.stderr)
        return EXIT_CONFIG
    for table in tables:
        lines = [options.markdown_table(table)] if args.markdown else list(options.text_help(table))
        print("\n".join(lines), end="\n\n")
    return EXIT_OK


def _sim_options(args: argparse.Namespace) -> SimOptions:
    line = Timeline(seed=args.seed, big_every=args.big_every)
    line.rates.update({kind: rate * args.rate for kind, rate in line.rates.items()})
    faults = Faults(
        drop_every=args.drop_every,
        bad_every=args.bad_every,
        cut_after=args.cut_after,
        refuse_count=args.refuse,
        refuse_status=args.refuse_status,
    )
    if args.real_faults:
        faults, args.release = real_world_faults(), max(args.release, 3.0)
    token = os.environ.get("PODSHIP_SIM_TOKEN", "sim-token")
    return SimOptions(
        host=args.host,
        port=args.port,
        tokens={token: args.cid},
        timeline=line,
        speed=args.speed,
        faults=faults,
        release_secs=args.release,
        start_ms=line.epoch_ms + int(args.start_hours * HOUR_MS),
    )


def _simulate(args: argparse.Namespace) -> int:
    logsetup.configure("info")

    async def serve(folder: str) -> None:
        sim_options = _sim_options(args)
        note = ""
        if args.tls:
            sim_options.ssl_context, cert = self_signed(folder, args.host)
            note = f"; set tls_ca_file: {cert}"
        async with Simulator(sim_options) as sim:
            print(
                f"podship simulate: serving {sim.url} (cluster id {args.cid}, "
                f"API key {next(iter(sim_options.tokens))}{note})",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.Event().wait()

    with tempfile.TemporaryDirectory(prefix="podship-sim-") as folder:
        try:
            asyncio.run(serve(folder))
        except OSError as exc:  # the port is in use, or the host is not an address of this machine
            problem = f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
            raise ConfigError(problem, file="<command line>", plugin="simulate", option="port") from None
    return EXIT_OK


def self_signed(folder: str, host: str) -> tuple[ssl.SSLContext, str]:
    """A throw-away certificate for `host` made with the openssl command, and a server context."""
    cert, key = os.path.join(folder, "sim-cert.pem"), os.path.join(folder, "sim-key.pem")
    san = f"IP:{host}" if host.replace(".", "").isdigit() or ":" in host else f"DNS:{host}"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={host}",
    ]
    command += ["-addext", f"subjectAltName={san},DNS:localhost", "-keyout", key, "-out", cert]
    try:
        subprocess.run(command, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(
            f"cannot make a certificate with openssl: {exc}", plugin="simulate", option="tls"
        ) from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context, cert
