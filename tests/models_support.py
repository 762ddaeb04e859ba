"""Shared by the record-model tests: the public fixtures as records, and the official OCSF schema."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from podship.core.event.envelope import Event
from podship.core.pod import event_identity
from podship.core.records import arrived
from tests.helpers import normalise

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "elastic"
FILES = {"message": "message", "maillog": "mail", "audit": "audit"}
CONTEXT = {"tenant_name": "acme", "connector": "acme-pod", "collector_host": "collector-1"}


def record_of(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """The syslog-index record the pipeline carries for `event` (a copy: normalise takes it over)."""
    event = json.loads(json.dumps(event))
    event_id, ts = event_identity(event, kind)
    return normalise(event, kind, event_id, ts, dict(CONTEXT))


def event_of(event: dict[str, Any], kind: str, original: str = "compact") -> Event:
    """The event as an input hands it on (a copy: the input takes it over)."""
    text = json.dumps(event).encode()
    event_id, ts = event_identity(event, kind)
    return arrived(json.loads(text), kind, event_id, ts, dict(CONTEXT, original=original), text=text)


def fixture_events(kind: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{FILES[kind]}.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def fixture_expected(kind: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"{FILES[kind]}-expected.json").read_text())["expected"]


@functools.cache
def _ocsf() -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema("1.8.0"))


@functools.cache
def ocsf_validator(class_uid: int, profiles: tuple[str, ...]) -> Draft202012Validator:
    """The JSON Schema that ocsf-json-schema generates from the official OCSF 1.8.0 files for one
    class with the profiles an event names in metadata.profiles."""
    schema = _ocsf().get_class_schema(_ocsf().lookup_class_name_from_uid(class_uid), list(profiles))
    return Draft202012Validator(schema)


def ocsf_errors(event: dict[str, Any]) -> list[str]:
    validator = ocsf_validator(event["class_uid"], tuple(event["metadata"]["profiles"]))
    return [
        f"{'.'.join(map(str, error.path))}: {error.message[:160]}" for error in validator.iter_errors(event)
    ]
