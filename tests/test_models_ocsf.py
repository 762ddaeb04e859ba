"""OCSF records: valid against the official OCSF 1.8.0 schema, and mapped as the README says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podship.core.encode_json import dumps
from podship.core.models import MODELS, renderer
from podship.devtools.simgen import Timeline
from tests.models_support import event_of, fixture_events, ocsf_errors

ocsf = MODELS["ocsf"]
LINE = Timeline(seed=5, big_every=50)
MASK_ALL = Path(__file__).resolve().parent / "fixtures" / "shapes" / "mask-everything.yaml"


@pytest.mark.parametrize("kind", ["message", "maillog", "audit"])
@pytest.mark.parametrize("place", ["raw_data", "unmapped", "none"])
def test_every_simulated_event_validates_against_the_ocsf_schema(kind, place):
    for k in range(250):  # every disposition, direction, action and shape simgen makes, many times
        event = ocsf(event_of(LINE.event(kind, k), kind), place)
        assert ocsf_errors(event) == [], (kind, k)


@pytest.mark.parametrize("kind", ["message", "maillog", "audit"])
def test_every_public_fixture_validates_against_the_ocsf_schema(kind):
    for event in fixture_events(kind):
        assert ocsf_errors(ocsf(event_of(event, kind), "raw_data")) == []


def test_the_validator_refuses_what_ocsf_refuses():
    good = ocsf(event_of(fixture_events("message")[1], "message"), "none")
    assert ocsf_errors(good) == []
    for broken in (
        {**good, "email": {"subject": "no from, no to"}},
        {**good, "direction_id": 7},
        {**good, "email": {**good["email"], "from": "not an address"}},
        {**good, "invented": 1},
    ):
        assert ocsf_errors(broken) != []


def test_an_inbound_message_from_the_public_fixtures():
    event = ocsf(event_of(fixture_events("message")[1], "message"), "none")
    assert (event["class_uid"], event["activity_id"], event["type_uid"]) == (4009, 2, 400902)
    assert (event["direction_id"], event["disposition_id"], event["action_id"]) == (1, 1, 1)
    assert (event["time"], event["severity_id"], event["is_alert"]) == (1709829289929, 1, False)
    assert event["metadata"] == {
        "version": "1.8.0",
        "profiles": ["security_control", "datetime"],
        "product": {"name": "Proofpoint on Demand", "vendor_name": "Proofpoint", "version": "8.14.0.396"},
        "uid": "81Of8J5YghkL1r--abcdefghijk-OBCFg7u",
        "original_event_uid": "81Of8J5YghkL1r--abcdefghijk-OBCFg7u",
        "log_name": "message",
        "log_provider": "podship",
        "log_source": "acme-pod",
        "tenant_uid": "acme",
        # The hop that shipped it: podship on its host (which collector of a fleet).
        "loggers": [
            {"name": "podship", "device": {"hostname": "collector-1", "type_id": 1, "type": "Server"}}
        ],
    }
    email = event["email"]
    assert email["from"] == "gsuite-alerts-noreply@google.com"
    assert email["to"] == ["abcdefg@example.com"]
    assert email["smtp_to"] == ["abcdef@example.com"]
    assert email["message_uid"] == "<VtuqyZOABCDFrgrs82rEqg.0@notifications.google.com>"
    assert (email["subject"], email["size"]) == ("G Suite Alert: test123", 9635)
    assert email["files"][1] == {
        "name": "text.html",
        "type_id": 1,
        "mime_type": "text/html",
        "ext": "HTML",
        "size": 3056,
        "hashes": [
            {"algorithm_id": 1, "value": "dbcc9cc02056791cb01fa952370ced27"},
            {"algorithm_id": 3, "value": "f276ba3212372f31f52b22a4f18cb2b2b8e29ea8641032fcb5fc6f18e571019b"},
        ],
    }
    assert [url["url_string"] for url in email["urls"]] == [
        "https://www.googleapis.com/auth/admin.reports.audit.readonly",
        "https://admin.google.com/AdminHome#Reports:subtab=manage-alerts",
        "https://support.google.com/a/answer/1234567?hl=en",
    ]
    assert event["email_auth"] == {
        "spf": "pass",
        "dkim": "pass",
        "dkim_domain": "google.com",
        "dmarc": "pass",
    }
    assert event["src_endpoint"] == {"ip": "89.160.20.112", "hostname": "mail-123456.google.com"}
    assert (event["message_trace_uid"], event["smtp_hello"]) == ("017ABCDEFGH5228", "mail-123456.google.com")
    assert (event["start_time"], event["duration"]) == (1581093289929, 287)


def message(direction, disposition, **filter_fields):
    return {
        "guid": "g-1",
        "ts": "2024-05-22T12:10:03.058340-0700",
        "envelope": {"from": "a@example.com", "rcpts": ["b@example.org"]},
        "filter": {"routeDirection": direction, "disposition": disposition, **filter_fields},
    }


@pytest.mark.parametrize(
    ("direction", "activity", "direction_id"),
    [("inbound", 2, 1), ("outbound", 1, 2), ("internal", 1, 3), ("sideways", 0, 99)],
)
def test_activity_and_direction_follow_the_route_direction(direction, activity, direction_id):
    event = ocsf(event_of(message(direction, "accept"), "message"), "none")
    assert (event["activity_id"], event["direction_id"]) == (activity, direction_id)
    assert ocsf_errors(event) == []


@pytest.mark.parametrize(
    ("disposition", "ids", "severity"),
    [
        ("accept", (1, "Allowed", 1, "Allowed"), 1),
        ("continue", (1, "Allowed", 1, "Allowed"), 1),
        ("retry", (14, "Delayed", 1, "Allowed"), 1),
        ("quarantine", (3, "Quarantined", 2, "Denied"), 3),
        ("reject", (2, "Blocked", 2, "Denied"), 3),
        ("discard", (6, "Dropped", 2, "Denied"), 3),
        ("bounce", (99, "bounce", 99, "Other"), 1),
    ],
)
def test_disposition_action_and_severity_follow_the_final_disposition(disposition, ids, severity):
    event = ocsf(event_of(message("inbound", disposition), "message"), "none")
    got = (event["disposition_id"], event["disposition"], event["action_id"], event["action"])
    assert (got, event["severity_id"]) == (ids, severity)


def test_a_virus_makes_a_high_severity_alert_with_the_malware_named():
    infected = message("inbound", "quarantine", modules={"av": {"virusNames": ["EICAR-Test-File"]}})
    event = ocsf(event_of(infected, "message"), "none")
    assert (event["severity_id"], event["severity"], event["is_alert"]) == (4, "High", True)
    assert event["malware"] == [{"name": "EICAR-Test-File", "classification_ids": [0]}]


def test_sendmail_lines_are_mta_relay_or_trace_activity():
    relay, trace = (ocsf(event_of(e, "maillog"), "none") for e in fixture_events("maillog")[1:3])
    assert (relay["activity_id"], relay["message_trace_uid"]) == (5, "45JCABCD123123")
    assert relay["email"] == {"to": ["mailive@example.com"], "smtp_to": ["mailive@example.com"]}
    assert relay["dst_endpoint"] == {"hostname": "abcd.example.net", "ip": "2a02:cf40::"}
    assert (relay["status_id"], relay["status_code"], relay["status_detail"]) == (
        1,
        "2.0.0",
        "Sent (Ok: queued)",
    )
    assert relay["unmapped"]["tls"] == {
        "version": "TLSv1.2",
        "cipher": "ECDHE-RSA-AES256-GCM",
        "verify": "OK",
    }
    assert (trace["activity_id"], trace["email"]["from"], trace["email"]["size"]) == (
        4,
        "mailive@example.com",
        1557,
    )
    assert trace["email"]["message_uid"] == "<171012345678974.123456.3315712345678901186@test.example.net>"


def test_audit_logins_are_authentication_and_the_rest_entity_management():
    login, create = (ocsf(event_of(e, "audit"), "none") for e in fixture_events("audit")[:2])
    assert (login["class_uid"], login["activity_id"], login["status_id"]) == (3002, 1, 1)
    assert login["user"] == {
        "name": "john@example.com",
        "uid": "a7e6abcd-1234-4621-1234-abcdefc3b3e6",
        "email_addr": "john@example.com",
    }
    assert login["src_endpoint"] == {"ip": "89.160.20.128"}
    assert (create["class_uid"], create["activity_id"], create["type_uid"]) == (3004, 1, 300401)
    assert create["entity"] == {"name": "new_test_key", "type": "config"}
    assert create["actor"]["user"]["name"] == "alice@example.com"


@pytest.mark.parametrize(
    ("action", "class_uid", "activity_id", "activity_name"),
    [
        ("logout", 3002, 2, "Logoff"),
        ("read", 3004, 2, "Read"),
        ("edit", 3004, 3, "Update"),
        ("delete", 3004, 4, "Delete"),
        ("execute", 3004, 99, "Execute"),
        ("download", 3004, 99, "Download"),
    ],
)
def test_every_audit_action_has_its_class_and_activity(action, class_uid, activity_id, activity_name):
    event = fixture_events("audit")[1]
    event["audit"]["action"] = action
    rendered = ocsf(event_of(event, "audit"), "none")
    assert (rendered["class_uid"], rendered["activity_id"], rendered["activity_name"]) == (
        class_uid,
        activity_id,
        activity_name,
    )
    assert ocsf_errors(rendered) == []


def test_the_original_event_goes_where_schema_original_says():
    event = fixture_events("audit")[0]
    record = event_of(event, "audit")
    raw, unmapped, none = (ocsf(record, place) for place in ("raw_data", "unmapped", "none"))
    kept = json.loads(raw["raw_data"])
    assert kept["guid"] == "7061cc5e-72f4-4f4b-984e-8338a585c011"
    assert kept["audit"]["user"] == event["audit"]["user"]
    assert "proofpoint_on_demand" not in raw.get("unmapped", {})
    assert unmapped["unmapped"]["proofpoint_on_demand"]["audit"]["action"] == "login"
    assert "raw_data" not in unmapped
    assert "raw_data" not in none
    assert "proofpoint_on_demand" not in none["unmapped"]


def test_every_output_renders_the_event_in_its_model_the_syslog_index_record_included():
    event = event_of(fixture_events("audit")[0], "audit")
    record = renderer()(event)
    assert record["msg_class"] == "proofpoint_on_demand_audit"
    assert json.loads(dumps(record))["proofpoint_on_demand"]["guid"] == event.event_id
    assert "proofpoint_on_demand" not in renderer(original="none")(event)
    assert renderer("ocsf", "none")(event)["class_uid"] == 3002


def test_raw_data_is_the_text_the_record_carries_not_a_second_encoding():
    from podship.core.pod import event_identity
    from podship.core.records import arrived

    frame = fixture_events("audit")[0]
    text = json.dumps(frame, indent=1)  # a spelling of the event no encoder of ours would produce
    event_id, ts = event_identity(json.loads(text), "audit")
    event = arrived(json.loads(text), "audit", event_id, ts, {"original": "raw"}, text=text.encode())
    rendered = ocsf(event, "raw_data")
    assert rendered["raw_data"] == text
    assert rendered["user"]["name"] == "john@example.com", "the event is still read"


@pytest.mark.parametrize("original", ["compact", "raw"])
@pytest.mark.parametrize("place", ["raw_data", "unmapped", "none"])
def test_every_corpus_event_validates_in_every_setting_masked_or_not(original, place):
    """Public fixtures, odd shapes (to= a file, a program, /dev/null, REDACTED; empty and missing
    sections), simulator events; as they come and after every meaning is masked."""
    from podship.filters.log_filter import LogFilter, LogFilterOptions
    from tests.event_corpus import all_events
    from tests.test_privacy import _event

    stage = LogFilter(LogFilterOptions(str(MASK_ALL)), {})
    for name, kind, event in all_events():
        plain, masked = _event(kind, event, original), _event(kind, event, original)
        stage.decide(masked)
        for pod_event in (plain, masked):
            assert ocsf_errors(ocsf(pod_event, place)) == [], name
