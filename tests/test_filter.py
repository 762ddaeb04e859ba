"""The log_filter stage: CLI, export, the pipeline with rules, and SIGHUP reload."""

import asyncio
import copy
import json
import re
import signal
from pathlib import Path

import pytest
import yaml

from podship.cli.main import main
from podship.core.rules import compile_rules
from podship.core.rules_export import fluent_bit, vector
from podship.devtools.simgen import Timeline
from podship.filters.log_filter import LogFilter, LogFilterOptions
from podship.outputs.stdout import OPTIONS as STDOUT_OPTIONS
from podship.outputs.stdout import StdoutOutput
from tests.helpers import options, record, write_pipeline
from tests.pipes import build, connector, records, run_podship, run_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "configs" / "rules").glob("*.yaml"))
SAMPLE = [record(kind, k) for kind in ("message", "maillog", "audit") for k in range(120)]


def test_rules_check_lists_rules_and_errors_point_at_file_line_and_rule(tmp_path, capsys):
    assert main(["rules", "check", str(ROOT / "configs/rules/noise.yaml")]) == 0
    out = capsys.readouterr().out
    assert "line 4: drop-cron-mail: drop" in out
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "rules:\n  - name: fine\n    action: drop\n  - name: bad-regex\n    when: {field: subject, op: regex, value: '(['}\n    action: drop\n"
    )
    assert main(["rules", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.strip().startswith(
        f"podship: configuration error: {broken}: line 4: rule 'bad-regex': bad regex '(['"
    )


def test_a_bad_rules_file_in_a_pipeline_names_both_files(tmp_path, capsys, monkeypatch):
    broken = tmp_path / "rules.yaml"
    broken.write_text(
        "rules:\n  - name: x\n    when: {field: a, op: cidr, value: 300.1.1.1/8}\n    action: drop\n"
    )
    pipeline = write_pipeline(
        tmp_path / "p.yaml",
        [{"name": "proofpoint_pod", "cluster_id": "c", "api_key": "${POD_API_KEY}"}],
        filters=[{"name": "log_filter", "rules_file": str(broken)}],
    )
    monkeypatch.setenv("POD_API_KEY", "k")
    assert main(["check", "-c", str(pipeline)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{pipeline}: plugin 'log_filter': option 'rules_file': rules file {broken}: line 2: rule 'x': bad network"
        in err
    )


MISSPELLED = """rules:
  - name: pod-path
    when: {field: proofpoint_on_demand.filter.someFieldPodAddsLater, op: exists}
    action: keep
  - name: dotted-key
    when: {field: [proofpoint_on_demand, filter, modules, dmarc, authResults, smtp.mailfrom], op: exists}
    action: keep
  - name: made-here
    action: {rename: {subject: title}}
  - name: on-the-made-field
    when: {field: title, op: eq, value: x}
    action: keep
  - name: typo
    when: {field: envelope_form, op: eq, value: a@b.example}
    action: drop
  - name: typo-in-a-section
    when: {field: proofpoint_on_demand.fliter.disposition, op: eq, value: reject}
    action: drop
"""


def test_check_refuses_a_misspelled_field_of_a_rules_file_the_pipeline_names(tmp_path, capsys, monkeypatch):
    """Fields of the model, paths under PoD's sections (PoD adds fields) and fields the file itself
    makes pass; a typo is an error of `podship check`, `run` and `rules check`, with a guess."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(MISSPELLED)
    pipeline = write_pipeline(
        tmp_path / "p.yaml",
        [{"name": "proofpoint_pod", "cluster_id": "c", "api_key": "${POD_API_KEY}"}],
        filters=[{"name": "log_filter", "rules_file": str(rules)}],
    )
    monkeypatch.setenv("POD_API_KEY", "k")
    for command in (["check", "-c", str(pipeline)], ["run", "-c", str(pipeline)]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"podship: configuration error: {pipeline}: plugin 'log_filter': option 'rules_file': "
            f"rules file {rules}: line 13: rule 'typo': field 'envelope_form' is not a field of "
            "syslog_index records; did you mean 'envelope_from'?; line 16: rule 'typo-in-a-section': "
            "field 'proofpoint_on_demand.fliter.disposition' is not a field of syslog_index records; "
            "did you mean 'proofpoint_on_demand.filter.disposition'?"
        )
    assert main(["rules", "check", str(rules)]) == 2
    assert "did you mean 'envelope_from'?" in capsys.readouterr().err
    rules.write_text(MISSPELLED.split("  - name: typo\n", maxsplit=1)[0])
    assert main(["rules", "check", str(rules)]) == 0
    assert main(["check", "-c", str(pipeline)]) == 0


def test_check_knows_the_fields_of_the_model_a_rules_file_names(tmp_path, capsys, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "schema: ocsf\nrules:\n  - name: out\n    when: {field: email.smtp_form, op: exists}\n    action: drop\n"
    )
    assert main(["rules", "check", str(rules)]) == 2
    assert "did you mean 'email.smtp_from'?" in capsys.readouterr().err
    rules.write_text(rules.read_text().replace("smtp_form", "smtp_from"))
    assert main(["rules", "check", str(rules)]) == 0


def test_rules_test_prints_each_decision_and_a_summary(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    line = Timeline(seed=3)
    events.write_text(
        "".join(json.dumps(line.event(kind, k)) + "\n" for kind in ("message", "maillog") for k in range(30))
    )
    assert main(["rules", "test", str(ROOT / "configs/rules/internal-relays.yaml"), str(events)]) == 0
    out = capsys.readouterr().out.splitlines()
    decisions = [row.split("\t") for row in out if "\t" in row]
    assert len(decisions) == 60
    assert {verdict for _, verdict, _ in decisions} == {"keep", "drop"}
    assert all(rule == "drop-internal-relays" for _, verdict, rule in decisions if verdict == "drop")
    dropped = sum(verdict == "drop" for _, verdict, _ in decisions)
    assert f"60 events: {60 - dropped} kept, {dropped} dropped" in out
    assert f"  drop-internal-relays: matched {dropped}, dropped {dropped}" in out


FLUENT_KEYS = {
    "grep": {"name", "alias", "match", "logical_op", "exclude", "regex"},
    "modify": {"name", "alias", "match", "remove", "rename", "set"},
}


def _fluent_value(rec, key):
    """A record accessor (`key` or `$a['b']['c']`) read as Fluent Bit reads it."""
    parts = [key[1:].split("[")[0], *re.findall(r"\['([^']*)'\]", key)] if key.startswith("$") else [key]
    for part in parts:
        rec = rec.get(part) if isinstance(rec, dict) else None
    return rec


def _fluent_drops(filters, rec):
    """What Fluent Bit's grep filters, read as documented (exclude when all AND-ed regexes match), drop."""
    for entry in filters:
        if entry["name"] == "grep":
            pairs = [rule.split(" ", 1) for rule in entry["exclude"]]
            values = [_fluent_value(rec, key) for key, _ in pairs]
            if all(
                isinstance(v, str | int | float) and re.search(p, str(v))
                for v, (_, p) in zip(values, pairs, strict=True)
            ):
                return True
    return False


# What Fluent Bit's grep can say of each shipped rules file (literal: a change to the export or to
# a file shows here), and how many of the 360 sample records those rules drop.
FLUENT_EXPORT = {
    "example.yaml": (["drop-internal"], 34),
    "internal-relays.yaml": ([], 0),
    "mask-recipients.yaml": ([], 0),
    "noise.yaml": ([], 0),
    "quarantined-only.yaml": ([], 0),
    "stellar.yaml": (["drop-bulk-newsletters"], 13),
}


def test_every_shipped_rules_file_has_its_expected_export():
    assert sorted(FLUENT_EXPORT) == [path.name for path in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_fluent_bit_export_is_valid_and_exports_what_grep_can_say(path):
    document = yaml.safe_load(path.read_text())
    filters, skipped = fluent_bit(document)
    for entry in filters:
        assert set(entry) <= FLUENT_KEYS[entry["name"]], entry
        assert entry["match"] == "*"
        for pattern in (rule.split(" ", 1)[1] for rule in entry.get("exclude", [])):
            re.compile(pattern)
    yaml.safe_load(yaml.safe_dump({"pipeline": {"filters": filters}}))
    names = [str(rule["name"]) for rule in document["rules"]]
    assert [name for name in names if name not in skipped] == FLUENT_EXPORT[path.name][0]
    assert bool(filters) == bool(FLUENT_EXPORT[path.name][0])


@pytest.mark.parametrize(
    "path", [path for path in EXAMPLES if FLUENT_EXPORT[path.name][0]], ids=lambda p: p.name
)
def test_the_fluent_bit_export_drops_what_podship_drops(path):
    """Record by record over the sample, for the rules exported (the rest stay in podship)."""
    document = yaml.safe_load(path.read_text())
    filters, skipped = fluent_bit(document)
    exported = [rule for rule in document["rules"] if str(rule["name"]) not in skipped]
    assert not any(isinstance(rule["action"], dict) for rule in exported), "only drops and keeps compare"
    prefix = compile_rules({**document, "rules": exported}, b"k")
    fluent = [_fluent_drops(filters, copy.deepcopy(rec)) for rec in SAMPLE]
    podship = [not prefix.decide(copy.deepcopy(rec), 0).keep for rec in SAMPLE]
    assert fluent == podship
    assert sum(podship) == FLUENT_EXPORT[path.name][1]  # some dropped, some kept: it compares something


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_vector_export_is_a_filter_transform_with_a_balanced_vrl_condition(path):
    document = yaml.safe_load(path.read_text())
    (config,), skipped = vector(document)
    transform = yaml.safe_load(yaml.safe_dump(config))["transforms"]["podship_rules"]
    assert transform["type"] == "filter"
    assert transform["inputs"] == ["podship"]
    source = transform["condition"]["source"]
    code = re.sub(r'"(\\.|[^"\\])*"|r\'[^\']*\'', '""', source)
    code = "\n".join(line for line in code.splitlines() if not line.startswith("#"))
    depth = 0
    for char in code:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert (
        len(skipped) + source.count("# drops what podship rule") == len(document["rules"])
        or document.get("default") == "drop"
    )


async def test_the_pipeline_drops_and_tags_by_rules_and_still_acknowledges(simulator, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {name: tag-quarantine, when: {field: disposition, op: eq, value: quarantine}, action: {tag: [siem]}}\n  - {name: drop-maillog, scope: {msg_class: proofpoint_on_demand_maillog}, action: drop}\n"
    )
    line = Timeline(rates={"message": 30.0, "maillog": 30.0, "audit": 1.0})
    sim = await simulator(timeline=line)
    pipeline, out = build(tmp_path, [connector(sim, kind, backfill="0s") for kind in ("message", "maillog")])
    pipeline.filters = [LogFilter(LogFilterOptions(str(rules)), {})]
    siem_file = (tmp_path / "siem.ndjson").open("ab")
    pipeline.outputs.append(StdoutOutput(options(STDOUT_OPTIONS, tags=["siem"]), stream=siem_file))
    code = await run_until(
        pipeline, lambda: pipeline.dropped >= 100 and pipeline.records_out >= 300, timeout=30
    )
    out.close()
    siem_file.close()
    assert code == 0
    everything = records(tmp_path)
    assert everything and {r["event_type"] for r in everything} == {"message"}
    siem = [json.loads(row) for row in (tmp_path / "siem.ndjson").read_bytes().splitlines()]
    assert siem and all(r["disposition"] == "quarantine" for r in siem)
    assert {r["event_id"] for r in siem} == {
        r["event_id"] for r in everything if r["disposition"] == "quarantine"
    }
    maillog = next(source for source in pipeline.inputs if source.kind == "maillog")
    assert maillog.coverage.pending == {}
    assert maillog.coverage.newest_acked > 0  # intentional drops count as delivered


async def test_sighup_reloads_rules_and_a_broken_file_keeps_the_old_ones(simulator, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules: [{name: drop-maillog, scope: {msg_class: proofpoint_on_demand_maillog}, action: drop}]\n"
    )
    sim = await simulator(
        timeline=Timeline(rates={"message": 20.0, "maillog": 20.0, "audit": 1.0}), tokens={"k": "acme_hosted"}
    )
    config = write_pipeline(
        tmp_path / "p.yaml",
        [connector(sim, kind, backfill="0s") for kind in ("message", "maillog")],
        service={"state_dir": str(tmp_path / "state")},
        filters=[{"name": "log_filter", "rules_file": str(rules)}],
    )
    stdout, stderr = (tmp_path / "out.ndjson").open("wb"), (tmp_path / "err.log").open("wb")
    process = await run_podship(config, "k", stdout, stderr)

    async def wait_log(text):
        for _ in range(200):
            if text in (tmp_path / "err.log").read_text():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no log line {text!r}")

    def types():
        return [json.loads(row)["event_type"] for row in (tmp_path / "out.ndjson").read_bytes().splitlines()]

    async def wait_records(count):
        for _ in range(200):
            if len(types()) >= count:
                return
            await asyncio.sleep(0.05)

    await wait_records(20)
    rules.write_text("rules: [{name: broken, when: {field: x, op: regex, value: '(['}, action: drop}]\n")
    process.send_signal(signal.SIGHUP)
    await wait_log("rules not reloaded, the old ones keep running")
    before = len(types())
    await wait_records(before + 20)
    assert set(types()) == {"message"}
    rules.write_text(
        "rules: [{name: drop-message, scope: {msg_class: proofpoint_on_demand_message}, action: drop}]\n"
    )
    process.send_signal(signal.SIGHUP)
    await wait_log("rules reloaded")
    switched = len(types())
    await wait_records(switched + 40)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    stdout.close()
    stderr.close()
    after = types()[switched + 5 :]  # a batch in flight at the reload may still carry messages
    assert after and set(after) == {"maillog"}


def test_the_exports_read_the_operators_other_names_from_the_rules_themselves():
    rule = {
        "name": "n",
        "when": {"field": "disposition", "op": "not_equals", "value": "continue"},
        "action": "drop",
    }
    (config,), skipped = vector({"rules": [rule]})
    source = config["transforms"]["podship_rules"]["condition"]["source"]
    assert skipped == []
    assert '((to_string(.disposition) ?? "") != "continue")' in source
    matches = {"name": "m", "when": {"field": "subject", "op": "matches", "value": "^x"}, "action": "drop"}
    assert fluent_bit({"rules": [matches]})[0][0]["exclude"] == ["subject ^x"]
