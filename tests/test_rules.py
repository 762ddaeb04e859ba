"""Log-filter rules: every operator, action, pinned semantic and error, on simulator events."""

import copy

import pytest
import yaml

from podship.core.rules import RuleError, Tally, compile_rules
from tests.helpers import record


def rules(text, mask_key=b"k"):
    return compile_rules(yaml.safe_load(text), mask_key)


def keeps(text, rec, now=0.0):
    return rules(text).decide(rec, now).keep


def drop_when(condition):
    return f"rules:\n  - name: r\n    when: {condition}\n    action: drop\n"


MESSAGE = record("message", 1)  # a fixed simulator event: the asserts below read its values


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ("{field: event_type, op: eq, value: message}", True),
        ("{field: event_type, op: eq, value: MESSAGE}", False),
        ("{field: event_type, op: eq, value: MESSAGE, ignore_case: true}", True),
        ("{field: event_type, op: neq, value: message}", False),
        ("{field: event_type, op: in, value: [maillog, message]}", True),
        ("{field: subject, op: contains, value: parcel}", True),
        ("{field: subject, op: contains, value: PARCEL, ignore_case: true}", True),
        ("{field: subject, op: startswith, value: Your}", True),
        ("{field: subject, op: endswith, value: way}", True),
        ("{field: subject, op: regex, value: 'p[a-z]+cel'}", True),
        ("{field: subject, op: regex, value: '^parcel'}", False),
        ("{field: src_ip, op: cidr, value: 10.0.0.0/8}", False),
        ("{field: src_ip, op: cidr, value: [192.168.0.0/16, '2001:db8::/32']}", True),
        ("{field: spam_score, op: gt, value: 12}", True),
        ("{field: spam_score, op: gte, value: 13}", True),
        ("{field: spam_score, op: lt, value: 13}", False),
        ("{field: spam_score, op: lte, value: 13}", True),
        ("{field: quarantine_folder, op: exists}", True),
        ("{field: quarantine_folder, op: exists, value: false}", False),
        ("{field: msg_origin.source, op: eq, value: proofpoint_on_demand}", True),
    ],
)
def test_every_operator(condition, matches):
    assert MESSAGE["subject"] == "Your parcel 📦 is on its way"
    assert MESSAGE["src_ip"] == "2001:db8::a2:86"
    assert MESSAGE["spam_score"] == 13
    assert MESSAGE["quarantine_folder"] == "Spam"
    assert keeps(drop_when(condition), copy.deepcopy(MESSAGE)) is not matches


def test_a_list_value_matches_when_any_element_does():
    rec = {"header_to": ["a@x.example", "b@acme.example"]}
    assert not keeps(drop_when("{field: header_to, op: endswith, value: acme.example}"), rec)
    assert keeps(drop_when("{field: header_to, op: eq, value: c@x.example}"), rec)
    # neq is `not eq`: true only when no element equals
    assert keeps(drop_when("{field: header_to, op: neq, value: a@x.example}"), rec)


def test_a_positive_operator_on_a_missing_field_is_false_and_neq_is_true():
    for op, value in [
        ("eq", "x"),
        ("contains", "x"),
        ("regex", "."),
        ("cidr", "0.0.0.0/0"),
        ("gt", -1),
        ("in", "[x]"),
    ]:
        assert keeps(drop_when(f"{{field: nowhere, op: {op}, value: {value}}}"), {"a": 1})
    assert not keeps(drop_when("{field: nowhere, op: neq, value: x}"), {"a": 1})


def test_numeric_operators_coerce_numeric_strings_only():
    rule = drop_when("{field: size, op: gt, value: 100}")
    assert not keeps(rule, {"size": "1234"})
    assert not keeps(rule, {"size": 101.5})
    assert not keeps(rule, {"size": 101})
    assert keeps(rule, {"size": 100})
    assert keeps(rule, {"size": 100.0})
    assert keeps(rule, {"size": "big"})
    assert keeps(rule, {"size": True})
    assert keeps(rule, {"size": None})


def test_fields_reach_the_original_event_and_keys_with_dots():
    rec = copy.deepcopy(MESSAGE)
    assert not keeps(
        drop_when("{field: proofpoint_on_demand.msg.header.subject, op: contains, value: parcel}"), rec
    )
    dotted = "[proofpoint_on_demand, filter, modules, dmarc, authResults, emailIdentities, smtp.mailfrom]"
    sender = rec["envelope_from"]
    assert not keeps(drop_when(f"{{field: {dotted}, op: eq, value: '{sender}'}}"), rec)


def test_combinators_nest_freely():
    condition = "{all: [{field: event_type, op: eq, value: message}, {any: [{field: spam_score, op: gt, value: 90}, {not: {field: direction, op: eq, value: inbound}}]}]}"
    assert MESSAGE["direction"] == "inbound"
    assert keeps(drop_when(condition), copy.deepcopy(MESSAGE))
    assert not keeps(drop_when(condition), dict(copy.deepcopy(MESSAGE), direction="internal"))
    assert not keeps(drop_when(condition), dict(copy.deepcopy(MESSAGE), spam_score=95))


def test_first_keep_or_drop_decides_and_the_default_applies_otherwise():
    text = """
default: drop
rules:
  - {name: keep-quarantine, when: {field: disposition, op: in, value: [quarantine, reject]}, action: keep}
  - {name: drop-rest-of-inbound, when: {field: direction, op: eq, value: inbound}, action: drop}
"""
    ruleset, tally = rules(text), Tally()
    first = tally.count(ruleset.decide({"disposition": "reject", "direction": "inbound"}, 0))
    assert (first.rule, first.matched) == ("keep-quarantine", ("keep-quarantine",))
    assert not tally.count(ruleset.decide({"disposition": "accept", "direction": "inbound"}, 0)).keep
    decision = tally.count(ruleset.decide({"disposition": "accept", "direction": "outbound"}, 0))
    assert (decision.keep, decision.rule, decision.matched) == (False, "", ())
    assert tally.of(["keep-quarantine", "drop-rest-of-inbound"]) == {
        "keep-quarantine": {"matched": 1, "dropped": 0},
        "drop-rest-of-inbound": {"matched": 1, "dropped": 1},
    }


def test_edits_apply_in_order_and_later_rules_see_them():
    text = """
rules:
  - {name: rename, action: {rename: {subject: title}}}
  - {name: set, action: {set: {siem.index: mail, subject: replaced}}}
  - {name: drop-if-renamed, when: {field: title, op: exists}, action: keep}
  - {name: never, action: drop}
"""
    rec = copy.deepcopy(MESSAGE)
    decision = rules(text).decide(rec, 0)
    assert decision.keep and decision.rule == "drop-if-renamed"
    assert rec["title"] == "Your parcel 📦 is on its way"
    assert rec["subject"] == "replaced"
    assert rec["siem"] == {"index": "mail"}


def test_remove_and_keep_fields():
    rec = copy.deepcopy(MESSAGE)
    rules(
        "rules: [{name: r, action: {remove_fields: [proofpoint_on_demand, urls, msg_origin.processor]}}]"
    ).decide(rec, 0)
    assert "proofpoint_on_demand" not in rec and "urls" not in rec
    assert rec["msg_origin"] == {
        "source": "proofpoint_on_demand",
        "vendor": "proofpoint",
        "category": "email",
    }
    rec = copy.deepcopy(MESSAGE)
    rules("rules: [{name: r, action: {keep_fields: [subject, msg_origin.source]}}]").decide(rec, 0)
    assert set(rec) == {
        "subject",
        "msg_origin",
        "timestamp",
        "event_id",
        "msg_class",
        "connector",
        "event_type",
    }
    assert rec["msg_origin"] == {"source": "proofpoint_on_demand"}


def test_editing_one_record_leaves_the_next_alone():
    remove = rules("rules: [{name: r, action: {remove_fields: [msg_origin.processor, msg_origin.vendor]}}]")
    first, second = record("message", 1), record("message", 2)
    remove.decide(first, 0)
    assert first["msg_origin"] == {"source": "proofpoint_on_demand", "category": "email"}
    assert second["msg_origin"] == {
        "source": "proofpoint_on_demand",
        "vendor": "proofpoint",
        "category": "email",
        "processor": {"name": "proofpoint_on_demand", "type": "log_collector"},
    }


def test_mask_with_text_or_a_keyed_hash_that_still_correlates():
    rec = {"envelope_rcpts": ["a@acme.example", "b@acme.example"], "header_from": "a@acme.example"}
    rules("rules: [{name: r, action: {mask: {fields: [header_from]}}}]").decide(rec, 0)
    assert rec["header_from"] == "***"
    first = {"envelope_rcpts": ["a@acme.example", "b@acme.example"], "header_from": "a@acme.example"}
    rules("rules: [{name: r, action: {mask: {fields: [envelope_rcpts, header_from], with: hash}}}]").decide(
        first, 0
    )
    assert first["envelope_rcpts"][0] == first["header_from"]
    assert first["envelope_rcpts"][0] != first["envelope_rcpts"][1]
    assert first["header_from"].startswith("hmac-sha256:")
    assert "a@acme" not in str(first)
    other = {"header_from": "a@acme.example"}
    compile_rules(
        yaml.safe_load("rules: [{name: r, action: {mask: {fields: [header_from], with: hash}}}]"), b"other"
    ).decide(other, 0)
    assert other["header_from"] != first["header_from"]


def test_tags_accumulate_and_do_not_decide():
    text = "rules: [{name: a, action: {tag: siem}}, {name: b, when: {field: event_type, op: eq, value: message}, action: {tag: [archive, siem]}}]"
    decision = rules(text).decide(copy.deepcopy(MESSAGE), 0)
    assert decision.keep and decision.rule == ""
    assert decision.tags == {"siem", "archive"}


def test_sample_keeps_one_in_n_deterministically_by_event_id():
    ruleset = rules("rules: [{name: s, action: {sample: 4}}]")
    kept = [i for i in range(4000) if ruleset.decide({"event_id": f"id-{i}"}, 0).keep]
    assert 800 < len(kept) < 1200
    assert kept == [
        i
        for i in range(4000)
        if rules("rules: [{name: s, action: {sample: 4}}]").decide({"event_id": f"id-{i}"}, 0).keep
    ]


def test_rate_limit_drops_the_excess_per_key_per_window_and_counts_it():
    ruleset = rules("rules: [{name: rl, action: {rate_limit: {count: 2, per: 10s, key: src_ip}}}]")
    tally = Tally()
    verdicts = [
        tally.count(ruleset.decide({"src_ip": ip}, now)).keep
        for ip, now in [("a", 0), ("a", 1), ("a", 2), ("b", 3), ("a", 10), ("a", 11), ("a", 12)]
    ]
    assert verdicts == [True, True, False, True, True, True, False]
    assert tally.dropped["rl"] == 2


def test_scope_limits_a_rule_to_tenant_connector_and_class():
    text = "rules: [{name: r, scope: {tenant: acme, msg_class: proofpoint_on_demand_maillog}, action: drop}]"
    assert not keeps(text, record("maillog", 1))
    assert keeps(text, record("message", 1))
    assert keeps(text, dict(record("maillog", 1), tenant_name="other"))


def test_the_stellar_form_is_accepted_and_limited_to_ten_conditions():
    text = """
rules:
  - name: stellar
    tenant: acme
    log_source: proofpoint_on_demand
    conditions:
      - {field: event_type, operator: equals, value: maillog}
      - {field: sendmail_status, operator: starts_with, value: Sent}
    action: drop
"""
    maillog = record("maillog", 0)
    assert maillog["sendmail_status"].startswith("Sent")
    assert not keeps(text, maillog)
    assert keeps(text, dict(maillog, tenant_name="globex"))
    eleven = "\n".join("      - {field: a, operator: equals, value: 1}" for _ in range(11))
    with pytest.raises(RuleError, match="rule 'stellar': at most 10 conditions in one filter, got 11"):
        rules(
            text.split("    conditions:", maxsplit=1)[0]
            + "    conditions:\n"
            + eleven
            + "\n    action: drop\n"
        )


def test_equality_rules_on_one_field_are_indexed_and_keep_their_order():
    lines = [
        f"  - {{name: r{i}, when: {{field: queue_id, op: in, value: [q{i}, shared]}}, action: {'keep' if i % 2 else 'drop'}}}"
        for i in range(50)
    ]
    ruleset = rules("rules:\n" + "\n".join(lines))
    assert len(ruleset.stages) == 1
    assert ruleset.decide({"queue_id": "q7"}, 0).rule == "r7"
    assert ruleset.decide({"queue_id": "shared"}, 0).rule == "r0"
    assert ruleset.decide({"queue_id": ["q9", "q4"]}, 0).rule == "r4"
    assert ruleset.decide({"queue_id": "none"}, 0).rule == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {}", "a rules file is a mapping with a 'rules' list"),
        ("default: maybe\nrules: []", "default must be keep or drop, got 'maybe'"),
        ("rules: [{action: drop}]", "rule '#1': every rule needs a name"),
        ("rules: [{name: a, action: drop}, {name: a, action: drop}]", "rule 'a': rule names must be unique"),
        (
            "rules: [{name: a, when: {field: x, op: like, value: 1}, action: drop}]",
            "rule 'a': unknown operator 'like'; known: eq, neq",
        ),
        (
            "rules: [{name: a, when: {field: x, op: regex, value: '(['}, action: drop}]",
            "rule 'a': bad regex '(['",
        ),
        (
            "rules: [{name: a, when: {field: x, op: cidr, value: 10.0.0.300/8}, action: drop}]",
            "rule 'a': bad network",
        ),
        (
            "rules: [{name: a, when: {field: x, op: gt, value: many}, action: drop}]",
            "rule 'a': operator gt takes a number, got 'many'",
        ),
        (
            "rules: [{name: a, when: {field: x, op: in, value: one}, action: drop}]",
            "rule 'a': operator in takes a non-empty list",
        ),
        (
            "rules: [{name: a, when: {field: x, op: eq, value: [1]}, action: drop}]",
            "rule 'a': operator eq takes one value, not a list",
        ),
        ("rules: [{name: a, when: {field: x, op: eq}, action: drop}]", "rule 'a': operator eq needs a value"),
        (
            "rules: [{name: a, when: {field: '', op: eq, value: 1}, action: drop}]",
            "rule 'a': a field is a dotted name or a list of key names",
        ),
        ("rules: [{name: a, when: {all: []}, action: drop}]", "rule 'a': all takes a non-empty list"),
        ("rules: [{name: a, action: explode}]", "rule 'a': action is drop, keep, or one of"),
        ("rules: [{name: a, action: {explode: 1}}]", "rule 'a': unknown action 'explode'"),
        ("rules: [{name: a, action: {sample: 0}}]", "rule 'a': sample takes a whole number N >= 1"),
        (
            "rules: [{name: a, action: {mask: {fields: [x], with: hash}}}]",
            "rule 'a': mask with hash needs mask_key",
        ),
        ("rules: [{name: a, scope: {region: eu}, action: drop}]", "rule 'a': unknown scope 'region'"),
        ("rules: [{name: a, wen: {}, action: drop}]", "rule 'a': unknown key 'wen'"),
    ],
)
def test_every_error_names_the_rule_and_the_problem(text, message):
    with pytest.raises(RuleError) as caught:
        compile_rules(yaml.safe_load(text), b"" if "hash" in text else b"k")
    assert message in str(caught.value)
