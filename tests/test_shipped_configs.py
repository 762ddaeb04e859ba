"""Every file in configs/ and docker/ parses, and uses only options its tool documents.

Allowed keys, and where they come from (read 2026-11-29):
- Fluent Bit: docs.fluentbit.io/manual/data-pipeline/inputs/exec, .../inputs/forward,
  .../outputs/stdout, .../administration/configuring-fluent-bit (service, storage, parsers,
  `threaded`, `storage.type`, `tls.*`).
- Vector: vector.dev/docs/reference/configuration/sources/exec, .../sources/fluent, .../sinks/console.
"""

import io
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMMON_INPUT = {"name", "tag", "threaded", "mem_buf_limit", "storage.type", "alias"}
FLUENT_BIT = {
    "service": {
        "flush",
        "log_level",
        "parsers_file",
        "storage.path",
        "storage.sync",
        "http_server",
        "http_listen",
        "http_port",
    },
    "exec": COMMON_INPUT
    | {
        "command",
        "parser",
        "interval_sec",
        "interval_nsec",
        "buf_size",
        "oneshot",
        "exit_after_oneshot",
        "propagate_exit_code",
    },
    "forward": COMMON_INPUT
    | {
        "listen",
        "port",
        "unix_path",
        "unix_perm",
        "buffer_max_size",
        "buffer_chunk_size",
        "tag_prefix",
        "shared_key",
        "empty_shared_key",
        "self_hostname",
        "security.users",
        "tls",
        "tls.verify",
        "tls.crt_file",
        "tls.key_file",
        "tls.ca_file",
    },
    "stdout": {"name", "match", "format", "json_date_key", "json_date_format", "alias"},
    "parser": {"name", "format", "time_key", "time_format", "time_keep", "regex", "types"},
}
VECTOR = {
    "exec": {
        "type",
        "command",
        "mode",
        "streaming",
        "streaming.respawn_on_exit",
        "streaming.respawn_interval_secs",
        "scheduled",
        "scheduled.exec_interval_secs",
        "include_stderr",
        "framing",
        "framing.method",
        "framing.newline_delimited",
        "framing.newline_delimited.max_length",
        "decoding",
        "decoding.codec",
        "maximum_buffer_size_bytes",
        "working_directory",
        "environment",
        "clear_environment",
    },
    "fluent": {
        "type",
        "address",
        "acknowledgements",
        "acknowledgements.enabled",
        "keepalive",
        "tls",
        "connection_limit",
        "receive_buffer_bytes",
    },
    "console": {"type", "inputs", "encoding", "encoding.codec", "target"},
}


def classic(path):
    """Fluent Bit's classic format: [SECTION] headers, then `Key Value` lines."""
    sections = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            assert re.fullmatch(r"\[(SERVICE|INPUT|FILTER|OUTPUT|PARSER)\]", line), line
            sections.append((line[1:-1], {}))
        else:
            key, _, value = line.partition(" ")
            assert value.strip(), f"{path.name}: {key} has no value"
            sections[-1][1][key.lower()] = value.strip()
    return sections


def flatten(mapping, prefix=""):
    keys = set()
    for key, value in mapping.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= flatten(value, prefix + key + ".")
    return keys


@pytest.mark.parametrize("path", sorted((ROOT / "configs/fluent-bit").glob("*.yaml")), ids=lambda p: p.name)
def test_fluent_bit_yaml_uses_documented_keys(path):
    document = yaml.safe_load(path.read_text())
    assert set(document["service"]) <= FLUENT_BIT["service"]
    for parser in document.get("parsers", []):
        assert set(parser) <= FLUENT_BIT["parser"]
    for section in ("inputs", "outputs"):
        for plugin in document["pipeline"][section]:
            assert set(plugin) <= FLUENT_BIT[plugin["name"]], (
                f"{path.name}: {set(plugin) - FLUENT_BIT[plugin['name']]}"
            )
    for output in document["pipeline"]["outputs"]:
        assert isinstance(output["match"], str)
    for plugin in document["pipeline"]["inputs"]:
        if plugin["name"] == "exec":
            _exec_input_is_right({key: str(value).lower() for key, value in plugin.items()})


@pytest.mark.parametrize("path", sorted((ROOT / "configs/fluent-bit").glob("*.conf")), ids=lambda p: p.name)
def test_fluent_bit_classic_uses_documented_keys(path):
    for section, keys in classic(path):
        kind = {"SERVICE": "service", "PARSER": "parser"}.get(section, keys.get("name"))
        assert set(keys) <= FLUENT_BIT[kind], f"{path.name} [{section}]: {set(keys) - FLUENT_BIT[kind]}"
        if section == "INPUT" and keys["name"] == "exec":
            _exec_input_is_right(keys)


def _exec_input_is_right(keys):
    """A long-running podship needs Oneshot; `run --once` is run again every Interval_Sec."""
    once = "--once" in keys["command"].split()
    assert keys["oneshot"] == ("false" if once else "true")
    assert ("interval_sec" in keys) is once
    assert keys["threaded"] in ("true", True) and keys["storage.type"] == "filesystem"


def vector_documents():
    for path in sorted((ROOT / "configs/vector").iterdir()):
        text = path.read_text()
        yield path, (tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text))


@pytest.mark.parametrize(
    ("path", "document"), list(vector_documents()), ids=lambda x: x.name if isinstance(x, Path) else ""
)
def test_vector_files_use_documented_keys(path, document):
    for kind in ("sources", "sinks"):
        for component in document[kind].values():
            assert flatten(component) <= VECTOR[component["type"]], (
                f"{path.name}: {flatten(component) - VECTOR[component['type']]}"
            )
    source = document["sources"]["podship"]
    if source["type"] == "exec":
        assert source["include_stderr"] is False
        once = "--once" in source["command"]
        assert source["mode"] == ("scheduled" if once else "streaming")
        assert ("scheduled" in source) is once
        assert source["framing"]["newline_delimited"]["max_length"] > 16 << 20
    else:
        assert source["acknowledgements"]["enabled"] is True


def test_yaml_and_toml_say_the_same():
    pairs = {path.stem: [] for path in (ROOT / "configs/vector").iterdir()}
    for path, document in vector_documents():
        pairs[path.stem].append(document)
    for documents in pairs.values():
        assert documents[0] == documents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "configs/fluentd").glob("*.conf")), ids=lambda p: p.name)
def test_fluentd_files_are_balanced_directives(path):
    stack = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if match := re.fullmatch(r"<(/?)(\w+)[^>]*>", line):
            closing, name = match.groups()
            if closing:
                assert stack.pop() == name
            else:
                stack.append(name)
    assert stack == []
    assert "@type forward" in path.read_text()


def fgets_lines(stream, buf_size):
    """Lines as Fluent Bit's exec input reads them: fgets() into a buffer of `buf_size` bytes."""
    pending = b""
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return
        pending += chunk
        while True:
            end = pending.find(b"\n", 0, buf_size - 1)
            if end == -1 and len(pending) < buf_size - 1:
                break
            cut = end + 1 if end != -1 else buf_size - 1  # fgets stops at a newline or a full buffer
            yield pending[:cut]
            pending = pending[cut:]


def test_the_exec_wiring_never_splits_a_record(tmp_path):
    (section,) = [keys for name, keys in classic(ROOT / "configs/fluent-bit/exec.conf") if name == "INPUT"]
    buf_size = int(section["buf_size"].removesuffix("MB")) * 1024 * 1024
    script = (
        "import asyncio, sys\n"
        "from podship.devtools.simgen import Timeline\n"
        "from podship.devtools.simulator import SimOptions, Simulator\n"
        "from podship.engine import config\n"
        "from podship.engine.pipeline import Pipeline\n"
        "async def main():\n"
        "    line = Timeline(rates={'message': 30.0, 'maillog': 1.0, 'audit': 1.0}, big_every=5)\n"
        "    async with Simulator(SimOptions(timeline=line)) as sim:\n"
        f"        doc = {{'service': {{'state_dir': {str(tmp_path)!r}}}, 'pipeline': {{'inputs': [{{'name': 'proofpoint_pod', 'cluster_id': 'acme_hosted', 'api_key': '${{POD_API_KEY}}', 'url': sim.url, 'backfill': '0s'}}], 'outputs': [{{'name': 'stdout'}}]}}}}\n"
        "        await Pipeline(config.parse(doc, 'x', {'POD_API_KEY': 'sim-token'}), max_records=60).run()\n"
        "asyncio.run(main())\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as child:
        lines = list(fgets_lines(child.stdout, buf_size))
        assert child.wait(timeout=60) == 0
    assert len(lines) >= 60
    assert all(line.endswith(b"\n") for line in lines), "a record was split across reads"
    records = [json.loads(line) for line in lines]
    assert max(len(line) for line in lines) > 1 << 20, "records over 1 MiB went through whole"
    assert len({r["event_id"] for r in records}) == len(records)


def test_fgets_model_splits_what_fluent_bit_would_split():
    lines = list(fgets_lines(io.BytesIO(b"a" * 10 + b"\nb\n"), 8))
    assert lines == [b"a" * 7, b"aaa\n", b"b\n"]
