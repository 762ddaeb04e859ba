"""Shared helpers: the record schema, a simulator on loopback, pipeline files."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from podship.core.encode_json import dumps


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


def write_pipeline(path, inputs, *, service=None, outputs=None, filters=None):
    """A pipeline file in Fluent Bit's YAML shape."""
    pipeline = {"inputs": inputs, "filters": filters or [], "outputs": outputs or [{"name": "stdout"}]}
    document = {"service": service or {}, "pipeline": pipeline}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


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
