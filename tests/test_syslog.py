"""The syslog output into a real rsyslog on loopback, compared field by field."""

import copy
import json
import os
import re

import pytest

from podship.core import encode_syslog as syslog
from podship.core import records as model
from podship.core.encode_json import dumps
from podship.engine.delivery import Delivery
from podship.outputs.syslog import OPTIONS, SyslogOutput
from tests.helpers import as_event, options, record
from tests.rsyslog import Rsyslog

SUBJECTS = [
    "plain",
    "Réunion — café ☕ 📦",
    'quotes " and \\ backslashes',
    "brackets ] [ and ] again",
    "newline\nand\ttab",
]


def records():
    base = record("message", 1)
    made = []
    for n, subject in enumerate(SUBJECTS):
        one = copy.deepcopy(base)
        one["event_id"], one["subject"], one["envelope_from"] = f"id-{n}", subject, f'x"]\\{n}@example.com'
        made.append(one)
    big = copy.deepcopy(base)
    big["event_id"], big["subject"] = "big", "x" * 100_000
    return [*made, big]


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory):
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog")).start()
    yield server
    server.stop()


def output(**values):
    return SyslogOutput(options(OPTIONS, **values))


def parse_sd(text):
    ((sd_id, body),) = re.findall(r"^\[(\S+) (.*)\]$", text)
    params = dict(re.findall(r'(\S+?)="((?:\\.|[^"\\])*)"', body))
    return sd_id, {name: re.sub(r"\\(.)", r"\1", value) for name, value in params.items()}


def check_5424(got, sent):
    assert sent["disposition"] == "quarantine"
    assert got["pri"] == "132"  # local0 (16) * 8 + warning (4): quarantined mail is a warning
    assert got["timestamp"] == sent["event_time"]
    assert got["hostname"] == sent["reporting_host"]
    assert got["app"] == "podship"
    assert got["procid"] == str(os.getpid())
    assert got["msgid"] == "message"
    sd_id, params = parse_sd(got["sd"])
    assert sd_id == "podship@32473"
    assert params == {
        "event_id": sent["event_id"],
        "msg_class": sent["msg_class"],
        "tenant_name": "acme",
        "envelope_from": sent["envelope_from"],
        "disposition": sent["disposition"],
    }
    assert json.loads(got["msg"]) == json.loads(dumps(sent))  # the record as its line reads


@pytest.mark.parametrize(
    ("mode", "framing"), [("tcp", "octet_counting"), ("tcp", "newline"), ("tls", "octet_counting")]
)
async def test_rfc5424_over_streams_arrives_field_by_field(rsyslog, mode, framing):
    sent = records()
    port = rsyslog.tcp if mode == "tcp" else rsyslog.tls
    # This rsyslog keeps messages up to 512k, and podship is told so: every record arrives whole.
    out = output(
        mode=mode, framing=framing, port=port, tls_ca_file=rsyslog.ca_file, max_message_bytes=512 << 10
    )
    before = len(rsyslog.messages(0))
    await Delivery(out).deliver([as_event(r) for r in copy.deepcopy(sent)])
    await out.close()
    got = [m for m in rsyslog.messages(before + len(sent))[before:] if m["input"] == mode]
    assert len(got) == len(sent)
    for message, original in zip(got, sent, strict=True):
        check_5424(message, original)


async def test_rfc5424_over_udp_and_the_size_limit(rsyslog):
    sent = records()
    out = output(mode="udp", port=rsyslog.udp, udp_max_bytes=8192)
    before = len(rsyslog.messages(0))
    await Delivery(out).deliver([as_event(r) for r in copy.deepcopy(sent)])
    await out.close()
    got = [m for m in rsyslog.messages(before + len(sent))[before:] if m["input"] == "udp"]
    by_id = {json.loads(m["msg"])["event_id"]: m for m in got if m["msg"].endswith("}")}
    for original in sent[:-1]:
        slim = {k: v for k, v in original.items() if k != "proofpoint_on_demand"} | {"truncated": True}
        message = json.loads(by_id[original["event_id"]]["msg"])
        assert message in (json.loads(dumps(original)), slim)
    big = [m for m in got if "big" in m["sd"]]
    assert big and len(big[0]["msg"].encode()) < 8192  # cut at the limit, at a character boundary


async def test_rfc3164_on_request(rsyslog):
    sent = records()[:2]
    out = output(mode="tcp", format="rfc3164", framing="newline", port=rsyslog.tcp)
    before = len(rsyslog.messages(0))
    await Delivery(out).deliver([as_event(r) for r in copy.deepcopy(sent)])
    await out.close()
    got = rsyslog.messages(before + 2)[before:]
    for message, original in zip(got, sent, strict=True):
        assert message["hostname"] == original["reporting_host"]
        assert message["app"] == "podship"
        assert json.loads(message["msg"].strip()) == json.loads(dumps(original))


def test_header_fields_are_sanitised_and_capped():
    layout = syslog.Layout(app_name="a b" + "x" * 60, hostname="host with spaces")
    line = syslog.message(
        {"event_time": "2026-11-01T00:00:00.000Z", "event_type": "message"}, layout, 7
    ).decode()
    head = line.split(" ")
    assert head[2] == "host_with_spaces"
    assert head[3] == "a_b" + "x" * 45
    assert len(head[3]) == 48
    assert syslog.sd_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    assert syslog.sd_name("bad name=x]") == "bad_name_x_"
    assert syslog.frame(b"abc", "octet_counting") == b"3 abc"
    assert syslog.frame(b"abc", "newline") == b"abc\n"


def test_severity_follows_the_record():
    layout = syslog.Layout()
    assert syslog.severity_of({"disposition": "reject"}, layout) == 4
    assert syslog.severity_of({"virus_names": ["EICAR"]}, layout) == 4
    assert syslog.severity_of({"audit_action": "delete"}, layout) == 5
    assert syslog.severity_of({"disposition": "accept"}, layout) == 6
    assert syslog.severity_of({"disposition": "reject"}, syslog.Layout(severity="err")) == 3


def with_a_huge_original_event():
    """A small record, one whose original event is over 1 MiB (PoD sends such), a small record."""
    small = records()[:2]
    huge = copy.deepcopy(small[0])
    huge["event_id"] = "huge"
    huge["proofpoint_on_demand"] = {**model.original(huge), "filler": "y" * ((1 << 20) + 999)}
    return [small[0], huge, small[1]]


def as_read(record):
    """The record as a receiver reads its line (the original event is carried as JSON text)."""
    return json.loads(dumps(record))


def slim(record):
    return {k: v for k, v in record.items() if k != "proofpoint_on_demand"} | {"truncated": True}


async def test_the_defaults_suit_a_stock_rsyslog(tmp_path):
    """rsyslog's own defaults (maxMessageSize 8k, imtcp frames up to 200,000 bytes) and podship's:
    the huge record arrives without its original event, and the stream after it is intact."""
    stock = Rsyslog(tmp_path / "stock", max_message="8k").start()
    try:
        sent = with_a_huge_original_event()
        out = output(mode="tcp", port=stock.tcp)
        assert OPTIONS.options[[o.name for o in OPTIONS.options].index("max_message_bytes")].default == 8192
        await Delivery(out).deliver([as_event(r) for r in copy.deepcopy(sent)])
        await out.close()
        got = [json.loads(m["msg"]) for m in stock.messages(3) if m["input"] == "tcp"]
    finally:
        stock.stop()
    assert got == [as_read(sent[0]), slim(sent[1]), as_read(sent[2])]
    assert "frame too large" not in (tmp_path / "stock" / "stderr").read_text()


# The README's example for large records, word for word (test_readme_shows_this_example checks).
LARGE_RSYSLOG = ('global(maxMessageSize="4m")', 'module(load="imtcp" maxFrameSize="4194304")')
LARGE_PODSHIP = "max_message_bytes: 4MiB"


async def test_the_readme_settings_for_large_records_carry_them_whole(tmp_path):
    large = Rsyslog(tmp_path / "large", max_message="4m", max_frame="4194304").start()
    try:
        sent = with_a_huge_original_event()
        out = output(mode="tcp", port=large.tcp, max_message_bytes=4 << 20)
        await Delivery(out).deliver([as_event(r) for r in copy.deepcopy(sent)])
        await out.close()
        got = [json.loads(m["msg"]) for m in large.messages(3, timeout=30) if m["input"] == "tcp"]
    finally:
        large.stop()
    assert got == [as_read(record) for record in sent]


def test_readme_shows_this_example():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for line in (*LARGE_RSYSLOG, LARGE_PODSHIP):
        assert line in readme, line


def _modules_without(tmp_path, name):
    """A copy of rsyslog's module folder (links) without one module, as on a host lacking its package."""
    import glob

    found = glob.glob("/usr/lib/*/rsyslog/imtcp.so") + glob.glob("/usr/lib*/rsyslog/imtcp.so")
    if not found:
        pytest.skip("rsyslog's modules are not installed (apt-get install rsyslog rsyslog-gnutls)")
    folder = tmp_path / "modules"
    folder.mkdir()
    for module in os.scandir(os.path.dirname(found[0])):
        if module.name != f"{name}.so":
            os.symlink(module.path, folder / module.name)
    return str(folder)


def test_a_missing_tls_module_skips_at_once_naming_the_package(tmp_path, monkeypatch):
    import time

    monkeypatch.delenv("CI", raising=False)
    server = Rsyslog(tmp_path / "no-tls", module_dir=_modules_without(tmp_path, "lmnsd_gtls"))
    started = time.monotonic()
    with pytest.raises(pytest.skip.Exception, match="install the package rsyslog-gnutls"):
        server.start()
    assert time.monotonic() - started < 10  # not the 20 s wait for a listener that never comes
    assert server.process.poll() is not None  # and the half-started rsyslogd is not left running
