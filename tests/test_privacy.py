"""Privacy by meaning: the shipped mask-recipients rule leaves no recipient address in clear, in any
model, for every public fixture and every simulator event (the oracle: addresses read off the
fixtures by hand, and simgen's recipient pattern)."""

from __future__ import annotations

import json
import re

import pytest

from podship.core.encode_json import dumps
from podship.core.models import MODELS
from podship.core.pod import event_identity
from podship.core.records import normalise
from podship.filters.log_filter import load_rules
from tests.event_corpus import FIXTURES, all_events

RULES = FIXTURES.parents[1] / "configs" / "rules" / "mask-recipients.yaml"
ENV = {"PODSHIP_MASK_KEY": "k"}
# Each fixture's recipients, read off the events by hand: envelope, delivered, verified, encrypted
# and header recipients, a sendmail line's to= and ctladdr=. A recipient's address is hidden
# wherever the event names it, as its sender too (a cron mail to itself).
RECIPIENTS = {
    "elastic/message.log:1": ["pps@m0000123.ppops.net"],
    "elastic/message.log:2": ["abcdef@example.com", "abcdefg@example.com"],
    "elastic/mail.log:1": ["jack@example.com", "user1@example.com"],
    "elastic/mail.log:2": ["mailive@example.com"],
    "public/datadog-message.log:1": ["james@abc.com"],
    "shapes/message.log:3": ["frank@acme.example", "grace@acme.example"],
    "shapes/message.log:4": ["ivan@acme.example", "judy@acme.example"],
    "shapes/maillog.log:1": ["owner@acme.example"],
    "shapes/maillog.log:2": ["keeper@acme.example"],
    "shapes/maillog.log:3": ["filer@acme.example"],
    "shapes/maillog.log:4": ["drop@acme.example"],
    "shapes/maillog.log:5": ["alice@acme.example", "bob@acme.example"],
    "shapes/maillog.log:8": ["dave@partner.example"],
}
SIMGEN_RCPT = re.compile(r"rcpt\d+@acme\.example")  # simgen's recipients, messages and maillog alike
OUTPUTS = [("syslog_index", ""), *((m, k) for m in ("ocsf", "ecs") for k in ("raw_data", "unmapped", "none"))]


def _record(kind: str, event: dict, original: str) -> dict:
    text = json.dumps(event).encode()
    event_id, ts = event_identity(event, kind)
    context = {"tenant_name": "acme", "connector": "c", "original": original}
    return normalise(json.loads(text), kind, event_id, ts, context, text=text)


def _rendered(record: dict, model: str, keep: str) -> str:
    copy = json.loads(dumps(record))  # each model renders its own copy, as each output does
    return (
        dumps(MODELS[model](copy, keep)).decode().lower() if model != "syslog_index" else dumps(copy).decode()
    )


def leaks(rules_file, original: str = "compact") -> dict[str, list[str]]:
    """(model/keep) -> the recipient addresses left in clear, over every corpus event."""
    rules, found = load_rules(str(rules_file), ENV), {}
    for name, kind, event in all_events():
        record = _record(kind, event, original)
        rules.decide(record, 0.0)
        for model, keep in OUTPUTS:
            text = _rendered(record, model, keep).lower()
            clear = [a for a in RECIPIENTS.get(name, []) if a in text] + SIMGEN_RCPT.findall(text)
            found.setdefault(f"{model}/{keep}", []).extend(f"{name}: {a}" for a in clear)
    return found


@pytest.mark.parametrize("original", ["compact", "raw"])
def test_the_shipped_rule_leaves_no_recipient_in_clear_in_any_model(original):
    assert {where: clear for where, clear in leaks(RULES, original).items() if clear} == {}


def test_a_rule_that_lists_paths_leaks_where_the_meaning_does_not(tmp_path):
    """The oracle sees leaks: main's rule (a list of paths) left recipients in every model."""
    old = tmp_path / "paths.yaml"
    fields = "[envelope_rcpts, header_to, header_cc, proofpoint_on_demand.envelope.rcpts]"
    old.write_text(
        f"mask_key: k\nrules:\n  - name: m\n    action: {{mask: {{fields: {fields}, with: hash}}}}\n"
    )
    found = leaks(old)
    assert all(found[where] for where in found), found


def test_masked_recipients_hash_alike_everywhere_and_keep_an_address_shape():
    rules = load_rules(str(RULES), ENV)
    event = next(event for name, _, event in all_events() if name == "elastic/mail.log:2")
    record = _record("maillog", event, "compact")
    rules.decide(record, 0.0)
    (masked,) = record["envelope_rcpts"]
    token = masked.strip("<>")
    assert re.fullmatch(r"hmac-sha256-[0-9a-f]{32}@masked\.invalid", token)
    # The record's address is bare (issue 26); the original event keeps sendmail's brackets.
    assert f"to=<{token}>" in record["raw"] and record["proofpoint_on_demand"]["sm"]["to"] == [f"<{token}>"]
    assert MODELS["ocsf"](record, "none")["email"]["to"] == [token]


def test_an_unknown_meaning_is_one_line_naming_what_is_known(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: m\n    action: {mask: {what: [recipient]}}\n")
    with pytest.raises(Exception, match="unknown recipient; known: recipients, senders"):
        load_rules(str(bad), {})
