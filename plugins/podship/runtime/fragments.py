"""The options every output shares to pick its record model (`core/models`)."""

from __future__ import annotations

from podship.core.models import DEFAULT, MODELS, ORIGINAL_PLACES
from podship.runtime.options import Option

MODEL_OPTIONS = (
    Option(
        "schema",
        "str",
        DEFAULT,
        "Record model: syslog_index (Stellar Cyber, syslog indexes), ocsf (OCSF 1.8.0: Security Lake, "
        "OCSF consumers) or ecs (Elastic's proofpoint_on_demand fields).",
        choices=tuple(MODELS),
    ),
    Option(
        "schema_original",
        "str",
        ORIGINAL_PLACES[0],
        "ocsf/ecs: where the original event goes: raw_data (OCSF raw_data, ECS event.original: JSON "
        "text), unmapped (OCSF unmapped, ECS proofpoint_on_demand.<type>: an object) or none.",
        choices=ORIGINAL_PLACES,
    ),
)
