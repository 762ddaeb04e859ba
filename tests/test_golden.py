"""The records of every corpus event are the ones main made before issue 23 (the goldens in
tests/fixtures/golden, made by make_from_main.py at commit 36dee56); INTENDED lists each
difference on purpose, with its reason."""

from __future__ import annotations

import json

import pytest

from podship.core.encode_json import dumps
from podship.core.models import MODELS
from podship.core.pod import event_identity
from podship.core.records import normalise
from tests.event_corpus import FIXTURES, all_events

CONTEXT = {"tenant_name": "acme", "connector": "acme-pod"}
EVENTS = {name: (kind, event) for name, kind, event in all_events()}


def _golden(schema: str) -> list[dict]:
    lines = (FIXTURES / "golden" / f"{schema}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _record(name: str, original: str) -> dict:
    kind, event = EVENTS[name]
    text = json.dumps(event).encode()
    event_id, ts = event_identity(event, kind)
    return normalise(json.loads(text), kind, event_id, ts, dict(CONTEXT, original=original), text=text)


@pytest.mark.parametrize("entry", _golden("syslog_index"), ids=lambda e: f"{e['name']}-{e['original']}")
def test_syslog_index_records_stay_as_main_made_them(entry):
    assert json.loads(dumps(_record(entry["name"], entry["original"]))) == entry["record"]


@pytest.mark.parametrize("schema", ["ocsf", "ecs"])
def test_ocsf_and_ecs_records_stay_as_main_made_them(schema):
    for entry in _golden(schema):
        rendered = MODELS[schema](_record(entry["name"], "compact"), entry["keep"])
        assert json.loads(dumps(rendered)) == entry["record"], entry["name"]
