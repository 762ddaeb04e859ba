"""Shared helpers: the record schema, a simulator on loopback, pipeline files."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from podship.core.encode_json import dumps
from tests.helpers import Authority


@pytest.fixture(scope="session")
def record_validator():
    """Validates a record as its line reads (a record may carry its original event as JSON text)."""
    schema = json.loads(resources.files("podship").joinpath("schema/record.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return LineValidator(jsonschema.Draft202012Validator(schema))


class LineValidator:
    def __init__(self, validator):
        self.validator = validator

    def validate(self, record):
        self.validator.validate(json.loads(dumps(record)))


@pytest.fixture
async def simulator():
    """A factory of simulators on loopback, all stopped at the end of the test."""
    from podship.devtools.simulator import SimOptions, Simulator

    started = []

    async def start(**options):
        sim = Simulator(SimOptions(**options))
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
def authority(tmp_path):
    """A CA for the test: `authority.server()` for loopback servers, `authority.ca_file` to trust it."""
    return Authority(tmp_path)
