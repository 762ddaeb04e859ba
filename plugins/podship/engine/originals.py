"""How the original PoD event travels: one `original` option per output, for the output's model.

The input always carries the event (as compact JSON text, or as the frame's own text when a
syslog-index output wants it raw), so that every model of every output can render it; an output
whose model keeps no original drops it when it renders. The older options still work, each with
one deprecation line: `schema_original` on an output, and `original_event` on an input (the
`original` of its syslog-index outputs).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from podship.core.models import DEFAULT, ORIGINAL_PLACES
from podship.core.records import ORIGINALS
from podship.engine.settings import PipelineConfig, PluginConfig
from podship.errors import ConfigError
from podship.inputs.proofpoint_options import ProofpointOptions
from podship.runtime.fragments import ModelChoice

log = logging.getLogger("podship.config")
PLACES = {DEFAULT: ORIGINALS}  # what each model can do with the original; ocsf and ecs: ORIGINAL_PLACES


def resolve(config: PipelineConfig) -> None:
    """Each output's `original` for its model; the inputs told how to carry the event."""
    legacy = _legacy_input_setting(config)
    for output in config.outputs:
        if isinstance(output.values, ModelChoice):
            original = _original(output, output.values, legacy, config.file)
            output.values = replace(output.values, original=original)
    carried = _carried(config)
    for source in config.inputs:
        if isinstance(source.values, ProofpointOptions):
            source.values = replace(source.values, original_event=carried)


def _legacy_input_setting(config: PipelineConfig) -> str:
    found = [
        (source.alias, source.values.original_event)
        for source in config.inputs
        if isinstance(source.values, ProofpointOptions) and source.values.original_event
    ]
    for alias, value in found:
        log.warning(
            "%s: input %s: option original_event is deprecated: write `original: %s` on the outputs",
            config.file,
            alias,
            value,
        )
    values = sorted({value for _, value in found})
    if len(values) > 1:  # it becomes the outputs' setting: inputs that disagree cannot both have it
        problem = f"inputs set different values ({', '.join(values)}); write `original` on each output"
        raise ConfigError(problem, file=config.file, plugin="proofpoint_pod", option="original_event")
    return values[0] if values else ""


def _original(output: PluginConfig, values: ModelChoice, legacy: str, file: str) -> str:
    """The output's own `original`, else its deprecated `schema_original`, else the input's
    deprecated `original_event` (syslog_index), else the model's default; refused if the
    model cannot keep the original that way."""
    model = values.schema or DEFAULT
    allowed = PLACES.get(model, ORIGINAL_PLACES)
    if values.schema_original:
        log.warning(
            "%s: output %s: option schema_original is deprecated: write `original: %s`",
            file,
            output.alias,
            values.schema_original,
        )
    given = values.original or values.schema_original
    value = given or (legacy if model == DEFAULT else "") or allowed[0]
    if value not in allowed:
        problem = f"schema {model} keeps the original as {', '.join(allowed)}, not {value!r}"
        raise ConfigError(problem, file=file, plugin=output.name, option="original")
    return str(value)


def _carried(config: PipelineConfig) -> str:
    """raw where a syslog-index output wants the frame's text, else compact; both at once cannot
    be carried, and is refused."""
    outputs = [output.values for output in config.outputs if isinstance(output.values, ModelChoice)]
    wanted = {_want(values) for values in outputs} - {""}
    if len(wanted) > 1:
        problem = (
            "one syslog_index output wants the original raw and another compact: podship carries one of them"
        )
        raise ConfigError(problem, file=config.file, plugin="outputs", option="original")
    return wanted.pop() if wanted else "compact"


def _want(values: ModelChoice) -> str:
    if (values.schema or DEFAULT) != DEFAULT:
        return ""
    return values.original if values.original in ("raw", "compact") else ""
