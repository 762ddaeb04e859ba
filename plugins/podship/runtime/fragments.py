"""Options that several plugins share, declared once and spliced into each options table."""

from __future__ import annotations

from dataclasses import dataclass

from podship.core.models import DEFAULT, MODELS, ORIGINAL_PLACES
from podship.core.records import ORIGINALS
from podship.runtime.options import Option

ORIGINAL_CHOICES = tuple(dict.fromkeys((*ORIGINALS, *ORIGINAL_PLACES)))
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
        "original",
        "str",
        "",
        "Where the model keeps the original PoD event. syslog_index: compact (default: under "
        "proofpoint_on_demand, blanks omitted), raw (the frame's JSON as PoD sent it: fastest) or none; "
        "ocsf/ecs: raw_data (default: OCSF raw_data, ECS event.original, as JSON text), unmapped (OCSF "
        "unmapped, ECS proofpoint_on_demand.<type>: an object) or none.",
        choices=ORIGINAL_CHOICES,
    ),
    Option(
        "schema_original",
        "str",
        "",
        "Deprecated: write `original` (ocsf/ecs values).",
        choices=ORIGINAL_PLACES,
    ),
)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The fields MODEL_OPTIONS give an output's options class (which derives from this one), so
    that the configuration can resolve every output's `original` without knowing the output."""

    schema: str
    original: str
    schema_original: str


TAGS = Option("tags", "list", [], "Take only records that a `tag` rule gave one of these tags (empty: all).")

RECONNECT_MAX = Option("reconnect_max", "duration", 30.0, "Longest wait between two attempts.", minimum=0.01)


def tls_verification(peer: str) -> tuple[Option, Option]:
    """How a TLS client verifies its `peer` (the server, the receiver)."""
    return (
        Option("tls_ca_file", "str", "", f"CA bundle that verifies the {peer} (default: the system store)."),
        Option(
            "tls_verify", "bool", True, f"Verify the {peer}'s certificate; turning it off logs a warning."
        ),
    )


TLS_CLIENT_CERTIFICATE = (
    Option("tls_cert_file", "str", "", "Client certificate, for receivers that ask for one."),
    Option("tls_key_file", "str", "", "Key of the client certificate."),
)
