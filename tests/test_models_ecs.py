"""ECS records against Elastic's own expected documents, field by field.

The expected documents are the integration's pipeline test outputs (tests/fixtures/elastic); the
lists below say every field that differs and why. A field that podship adds must be in EXTRA, a
field Elastic has and podship lacks fails the test unless it is in LEFT_OUT.
"""

from __future__ import annotations

import json

import pytest

from podship.core.models import MODELS
from podship.core.models.ecs import snake_keys
from podship.core.models.ecs_message import java_instant
from tests.models_support import event_of, fixture_events, fixture_expected

ecs = MODELS["ecs"]

# Fields of Elastic's expected documents that podship does not produce (removed from the copies in
# tests/fixtures/elastic, as the README there says), with the reason.
LEFT_OUT = {
    "event.original": "the raw input line; podship writes its own JSON of the event there (schema_original: raw_data)",
    "proofpoint_on_demand.*": "the integration's custom copy of the event; schema_original: unmapped writes a snake_case copy, not identical",
    "source.geo.*": "GeoIP lookup at ingest (Elasticsearch's geoip processor): no GeoIP database in podship",
    "tags": "Fleet policy flags (preserve_original_event ...), not part of the event",
}
# Fields podship adds that the expected documents lack, with the reason.
EXTRA = {
    "event.dataset": "Fleet sets it at ingest; podship names the integration's data stream",
    "data_stream.type": "the same, so that the record can be routed to the integration's data stream",
    "data_stream.dataset": "the same",
    "organization.name": "the PoD tenant (podship's tenant_name)",
    "labels.connector": "the podship connector that collected the event",
    "agent.type": "podship, the shipper (Elastic Agent writes itself here)",
    "agent.name": "the host podship ran on (collector_host)",
    "observer.vendor": "audit: set by the integration's current pipeline (after these fixtures were made)",
    "observer.product": "audit: as observer.vendor",
    "log.level": "audit: the current pipeline copies audit.level here",
    "labels.*": "audit: the current pipeline copies audit.tags here as labels",
}


def flat(document, prefix=""):
    out = {}
    for key, value in document.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def allowed_extra(name):
    return name in EXTRA or any(name.startswith(key[:-1]) for key in EXTRA if key.endswith("*"))


@pytest.mark.parametrize("kind", ["message", "maillog", "audit"])
def test_ecs_records_match_elastics_expected_documents_field_by_field(kind):
    pairs = list(zip(fixture_events(kind), fixture_expected(kind), strict=True))
    compared = 0
    for event, expected in pairs:
        got, want = flat(ecs(event_of(event, kind), "none")), flat(expected)
        for name, value in want.items():
            assert got.get(name) == value, (kind, expected["event"]["id"], name)
            compared += 1
        extra = sorted(name for name in got if name not in want)
        assert [name for name in extra if not allowed_extra(name)] == [], (kind, expected["event"]["id"])
    assert compared >= {"message": 50, "maillog": 30, "audit": 50}[kind]


def test_elastic_s_custom_copy_is_left_out_unless_asked_for():
    record = event_of(fixture_events("message")[1], "message")
    plain, raw, unmapped = (ecs(record, place) for place in ("none", "raw_data", "unmapped"))
    assert "proofpoint_on_demand" not in plain and "original" not in plain["event"]
    assert json.loads(raw["event"]["original"])["guid"] == "81Of8J5YghkL1r--abcdefghijk-OBCFg7u"
    copy = unmapped["proofpoint_on_demand"]["message"]
    assert copy["filter"]["msg_size_bytes"] == 9635
    assert copy["msg"]["header"]["message_id"] == ["<VtuqyZOABCDFrgrs82rEqg.0@notifications.google.com>"]
    assert copy["connection"]["tls"]["inbound"]["cipher_bits"] == 128


@pytest.mark.parametrize(
    ("action", "category", "kinds"),
    [
        ("logout", ["authentication"], ["end"]),
        ("execute", ["configuration"], ["access", "info"]),
        ("read", ["configuration"], ["access", "info"]),
        ("edit", ["configuration"], ["change"]),
        ("download", ["configuration"], ["info"]),
    ],
)
def test_audit_actions_the_fixtures_lack_are_categorised_as_the_integration_does(action, category, kinds):
    event = fixture_events("audit")[1]
    event["audit"]["action"] = action
    rendered = ecs(event_of(event, "audit"), "none")["event"]
    assert (rendered["action"], rendered["category"], rendered["type"]) == (action, category, kinds)


def test_instants_print_as_java_prints_them():
    assert java_instant(1581093290215712000) == "2020-02-07T16:34:50.215712Z"
    assert java_instant(1581093290215000000) == "2020-02-07T16:34:50.215Z"
    assert java_instant(1581093290215712345) == "2020-02-07T16:34:50.215712345Z"
    assert java_instant(1581093290000000000) == "2020-02-07T16:34:50Z"
    assert java_instant(1581093240000000000) == "2020-02-07T16:34Z"


def test_snake_keys():
    assert snake_keys({"msgSizeBytes": 1, "message-id": [{"isFinal": True}]}) == {
        "msg_size_bytes": 1,
        "message_id": [{"is_final": True}],
    }
