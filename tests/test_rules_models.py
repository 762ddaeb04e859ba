"""Rules written for another record model: `schema:` in the rules file."""

from __future__ import annotations

import json

import pytest
import yaml

from podship.cli.main import main
from podship.core.models import renderer, view
from podship.core.rules import RuleError, compile_rules
from podship.devtools.simgen import Timeline
from podship.filters.log_filter import LogFilter, LogFilterOptions
from tests.models_support import event_of, fixture_events

OCSF_RULES = """\
schema: ocsf
rules:
  - name: drop-allowed-outbound
    when:
      all:
        - {field: direction_id, op: eq, value: 2}
        - {field: disposition_id, op: eq, value: 1}
    action: drop
  - name: tag-logons
    when: {field: class_uid, op: eq, value: 3002}
    action: {tag: logon}
"""


def mail(direction, disposition):
    return {
        "guid": f"{direction}-{disposition}",
        "ts": "2024-05-22T12:10:03.058340-0700",
        "envelope": {"from": "a@example.com", "rcpts": ["b@example.org"]},
        "filter": {"routeDirection": direction, "disposition": disposition},
    }


def test_the_filter_evaluates_ocsf_rules_on_the_ocsf_rendering_and_passes_the_record_on(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(OCSF_RULES)
    stage = LogFilter(LogFilterOptions(str(path)), {})
    outbound = event_of(mail("outbound", "accept"), "message")
    assert stage.decide(outbound).keep is False
    assert stage.decide(event_of(mail("outbound", "reject"), "message")).keep is True
    assert stage.decide(event_of(mail("inbound", "accept"), "message")).keep is True
    login = event_of(fixture_events("audit")[0], "audit")
    decision = stage.decide(login)
    assert (decision.keep, decision.tags) == (True, frozenset({"logon"}))
    assert renderer()(login)["msg_class"] == "proofpoint_on_demand_audit", "outputs still render their model"


def test_the_same_fields_in_a_syslog_index_file_match_nothing_there(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(OCSF_RULES.replace("schema: ocsf\n", ""))
    stage = LogFilter(LogFilterOptions(str(path)), {})
    assert stage.decide(event_of(mail("outbound", "accept"), "message")).keep is True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("schema: nosuch\nrules: []\n", "schema must be one of syslog_index, ocsf, ecs, got 'nosuch'"),
        (
            "schema: ocsf\nrules:\n  - name: m\n    action: {mask: {fields: [email.to]}}\n",
            "rule 'm': mask edits the syslog-index record; a schema: ocsf file can drop, keep, tag, sample or rate_limit",
        ),
        (
            "schema: ecs\nrules:\n  - name: s\n    scope: {tenant: acme}\n    action: drop\n",
            "rule 's': scope names syslog-index fields; in a schema: ecs file write a condition",
        ),
    ],
)
def test_model_rules_files_refuse_what_cannot_work(text, problem):
    with pytest.raises(RuleError) as caught:
        compile_rules(yaml.safe_load(text))
    assert problem in str(caught.value)


def test_sample_hashes_the_event_id_wherever_the_model_keeps_it():
    line = Timeline(seed=9)
    events = [event_of(line.event("maillog", k), "maillog") for k in range(200)]
    rules = {"rules": [{"name": "half", "action": {"sample": 2}}]}
    plain = [compile_rules(rules).decide(view(e, "syslog_index"), 0).keep for e in events]
    for schema in ("ocsf", "ecs"):
        model_rules = compile_rules({**rules, "schema": schema})
        assert [model_rules.decide(view(e, schema), 0).keep for e in events] == plain
    assert 60 < sum(plain) < 140


def test_rules_test_shows_records_in_the_file_s_model(tmp_path, capsys):
    path, events = tmp_path / "rules.yaml", tmp_path / "events.jsonl"
    path.write_text(OCSF_RULES)
    events.write_text("\n".join(json.dumps(e) for e in fixture_events("audit")[:2]) + "\n")
    assert main(["rules", "test", str(path), str(events), "--show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "7061cc5e-72f4-4f4b-984e-8338a585c011\tkeep\t(default) tags=logon"
    shown = json.loads(lines[1])
    assert (shown["class_uid"], shown["metadata"]["uid"]) == (3002, "7061cc5e-72f4-4f4b-984e-8338a585c011")
    assert json.loads(lines[3])["class_uid"] == 3004


def test_export_says_the_model_and_warns_of_fields_it_does_not_have(tmp_path, capsys):
    path = tmp_path / "rules.yaml"
    path.write_text(OCSF_RULES + "  - name: old\n    when: {field: src_ip, op: exists}\n    action: drop\n")
    assert main(["rules", "export", "--to", "vector", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# rules on ocsf records: for a collector fed by an output with schema: ocsf\n")
    assert "# warning: rule 'old': field 'src_ip' is not a field of ocsf records" in out
    assert "direction_id" not in out.split("transforms:")[0], "known fields are not warned about"
