"""The service's options table and what a validated pipeline file becomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from podship.runtime.options import Option, OptionTable
from podship.runtime.state import DEAD_LETTER_MAX_BYTES


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """The `service` section, validated (fields: SERVICE's options, checked at import)."""

    state_dir: str
    log_level: str
    batch_size: int
    buffer_records: int
    checkpoint_interval: float
    grace_period: float
    dead_letter_max_bytes: int
    log_format: str
    http_listen: str
    status_interval: float


SERVICE = OptionTable(
    plugin="service",
    kind="service",
    summary="Process-wide settings: where state lives, logging, batching and shutdown.",
    options=(
        Option(
            "state_dir",
            "str",
            "./state",
            "Checkpoints, id journals and dead letters, one folder per connector.",
        ),
        Option(
            "log_level",
            "str",
            "info",
            "Logging threshold (logs go to stderr only).",
            choices=("debug", "info", "warning", "error"),
        ),
        Option(
            "batch_size", "int", 500, "Records handed to the outputs at once.", minimum=1, maximum=100_000
        ),
        Option(
            "buffer_records",
            "int",
            2000,
            "Records in flight between inputs and outputs before inputs stop reading.",
            minimum=1,
            maximum=1_000_000,
        ),
        Option(
            "checkpoint_interval",
            "duration",
            1.0,
            "How often acknowledged progress is written to disk.",
            minimum=0.05,
            maximum=300,
        ),
        Option(
            "grace_period",
            "duration",
            10.0,
            "On SIGTERM, how long in-flight records may take to drain.",
            minimum=0,
            maximum=600,
        ),
        Option(
            "dead_letter_max_bytes",
            "size",
            DEAD_LETTER_MAX_BYTES,
            "Size at which a connector's dead-letter file rotates.",
            minimum=4096,
        ),
        Option(
            "log_format", "str", "text", "Log lines as text or as JSON objects.", choices=("text", "json")
        ),
        Option(
            "http_listen", "str", "", "Serve GET /status and /metrics here (e.g. 127.0.0.1:2021); empty: off."
        ),
        Option(
            "status_interval", "duration", 300.0, "How often the status is logged as one line.", minimum=0.1
        ),
    ),
    shape=ServiceOptions,
    generic=(),
)


@dataclass
class PluginConfig:
    """One entry of `inputs`, `filters` or `outputs`, validated: `values` is the options object of
    the plugin `name` (its table's shape), which only that plugin's descriptor reads."""

    name: str
    values: object
    alias: str = ""


@dataclass
class PipelineConfig:
    file: str
    service: ServiceOptions
    inputs: list[PluginConfig] = field(default_factory=list)
    filters: list[PluginConfig] = field(default_factory=list)
    outputs: list[PluginConfig] = field(default_factory=list)
