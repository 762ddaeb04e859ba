"""Privacy by meaning: the shipped mask-recipients rule leaves no recipient address in clear, in any
model, for every public fixture and every simulator event (the oracle: addresses read off the
fixtures by hand, and simgen's recipient pattern)."""

from __future__ import annotations

import json
import re

import pytest

from podship.core.encode_json import dumps
from podship.core.event.envelope import Event
from podship.core.models import MODELS, renderer, view
from podship.core.pod import event_identity
from podship.core.records import arrived
from podship.filters.log_filter import LogFilter, LogFilterOptions, load_rules
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


def _event(kind: str, event: dict, original: str) -> Event:
    """The event as the input hands it on, carried as `original` (compact or raw) says."""
    text = json.dumps(event).encode()
    event_id, ts = event_identity(event, kind)
    context = {"tenant_name": "acme", "connector": "c", "original": original}
    return arrived(json.loads(text), kind, event_id, ts, context, text=text)


def _rendered(event: Event, model: str, keep: str) -> str:
    """What an output of `model` keeping the original `keep` sends (the carried setting for
    syslog_index), as each output renders it from the one event."""
    how = keep or event.context["original"]
    return dumps(renderer(model, how)(event)).decode().lower()


def leaks(rules_file, original: str = "compact") -> dict[str, list[str]]:
    """(model/keep) -> the recipient addresses left in clear, over every corpus event."""
    stage, found = LogFilter(LogFilterOptions(str(rules_file)), ENV), {}
    for name, kind, event in all_events():
        pod_event = _event(kind, event, original)
        stage.decide(pod_event)
        for model, keep in OUTPUTS:
            text = _rendered(pod_event, model, keep)
            clear = [a for a in RECIPIENTS.get(name, []) if a in text] + SIMGEN_RCPT.findall(text)
            found.setdefault(f"{model}/{keep}", []).extend(f"{name}: {a}" for a in clear)
    return found


@pytest.mark.parametrize("original", ["compact", "raw"])
def test_the_shipped_rule_leaves_no_recipient_in_clear_in_any_model(original):
    assert {where: clear for where, clear in leaks(RULES, original).items() if clear} == {}


def _mask_fields(folder, fields: str):
    path = folder / "paths.yaml"
    path.write_text(
        f"mask_key: k\nrules:\n  - name: m\n    action: {{mask: {{fields: {fields}, with: hash}}}}\n"
    )
    return path


def test_a_rule_that_lists_pod_paths_leaks_where_the_meaning_does_not(tmp_path):
    """The oracle sees leaks: a rule that lists some of PoD's places leaves recipients in clear
    in every model."""
    fields = "[proofpoint_on_demand.envelope.rcpts, proofpoint_on_demand.msg.header.to]"
    found = leaks(_mask_fields(tmp_path, fields))
    assert all(found[where] for where in found), found


def test_masking_a_syslog_index_field_hides_what_it_holds_in_every_model(tmp_path):
    """The event is edited, not the record: the field's meaning (recipients) is hidden wherever
    PoD holds it, so no model renders a recipient in clear."""
    found = leaks(_mask_fields(tmp_path, "[envelope_rcpts]"))
    assert {where: clear for where, clear in found.items() if clear} == {}


def test_masked_recipients_hash_alike_everywhere_and_keep_an_address_shape():
    stage = LogFilter(LogFilterOptions(str(RULES)), ENV)
    event = next(event for name, _, event in all_events() if name == "elastic/mail.log:2")
    pod_event = _event("maillog", event, "compact")
    stage.decide(pod_event)
    record = view(pod_event, "syslog_index")
    (masked,) = record["envelope_rcpts"]
    token = masked.strip("<>")
    assert re.fullmatch(r"hmac-sha256-[0-9a-f]{32}@masked\.invalid", token)
    # The record's address is bare (issue 26); the original event keeps sendmail's brackets.
    assert f"to=<{token}>" in record["raw"] and record["proofpoint_on_demand"]["sm"]["to"] == [f"<{token}>"]
    assert MODELS["ocsf"](pod_event, "none")["email"]["to"] == [token]


def test_an_unknown_meaning_is_one_line_naming_what_is_known(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: m\n    action: {mask: {what: [recipient]}}\n")
    with pytest.raises(Exception, match="unknown recipient; known: recipients, senders"):
        load_rules(str(bad), {})
