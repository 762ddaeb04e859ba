"""Shared helpers: the record schema, a simulator on loopback, pipeline files."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml


@pytest.fixture(scope="session")
def record_validator():
    schema = json.loads(resources.files("podship").joinpath("schema/record.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def write_pipeline(path, inputs, *, service=None, outputs=None):
    """A pipeline file in Fluent Bit's YAML shape."""
    document = {
        "service": service or {},
        "pipeline": {"inputs": inputs, "outputs": outputs or [{"name": "stdout"}]},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
