"""PoD event -> the ECS document Elastic's `proofpoint_on_demand` integration produces.

Field names and values follow the integration's ingest pipelines (data streams `message`, `mail`
and `audit`, ECS 8.11.0), so that its dashboards and detection rules work on podship's records;
`tests/test_models_ecs.py` compares the result with the integration's own expected documents.
What the pipelines add at ingest from outside the event (GeoIP, `_id`, Fleet's `agent.*`) is left
out; the README lists the differences.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from podship.core.addresses import is_ip
from podship.core.event import readers as pod
from podship.core.event.blanks import compact
from podship.core.event.envelope import Event
from podship.core.event.readers import as_list
from podship.core.models import ecs_message
from podship.core.models.ecs_common import OBSERVER, Related, observer, tls
from podship.core.models.fields import event_and_text
from podship.core.pod import iso_utc
from podship.core.records import Record

ECS_VERSION = "8.11.0"
DATASETS = {"message": "message", "maillog": "mail", "audit": "audit"}
# Every field path this model writes (a rule's field is checked against them); below the OPEN
# ones, keys come from the event (audit tags, the original event) and any path is accepted.
FIELDS = [
    "@timestamp",
    "message",
    "data_stream.dataset",
    "data_stream.type",
    "ecs.version",
    "organization.name",
    "event.action",
    "event.category",
    "event.dataset",
    "event.duration",
    "event.end",
    "event.id",
    "event.kind",
    "event.original",
    "event.start",
    "event.type",
    "log.level",
    "service.id",
    "rule.name",
    "url.full",
    "email.attachments.file.extension",
    "email.attachments.file.hash.md5",
    "email.attachments.file.hash.sha256",
    "email.attachments.file.mime_type",
    "email.attachments.file.name",
    "email.attachments.file.size",
    "email.from.address",
    "email.to.address",
    "email.cc.address",
    "email.reply_to.address",
    "email.sender.address",
    "email.local_id",
    "email.message_id",
    "email.subject",
    "email.x_mailer",
    "network.direction",
    "network.protocol",
    "observer.hostname",
    "observer.ip",
    "observer.name",
    "observer.product",
    "observer.type",
    "observer.vendor",
    "observer.version",
    "related.hash",
    "related.hosts",
    "related.ip",
    "related.user",
    "source.address",
    "source.domain",
    "source.ip",
    "source.user.email",
    "source.user.id",
    "source.user.roles",
    "tls.cipher",
    "tls.version",
    "tls.version_protocol",
    "truncated",
]
OPEN = ("labels", "proofpoint_on_demand")
_AUDIT = {  # PoD audit action: (event.category, event.type), as the integration sets them
    "login": (["authentication"], ["start"]),
    "logout": (["authentication"], ["end"]),
    "execute": (["configuration"], ["access", "info"]),
    "read": (["configuration"], ["access", "info"]),
    "create": (["configuration"], ["creation"]),
    "edit": (["configuration"], ["change"]),
    "delete": (["configuration"], ["deletion"]),
    "download": (["configuration"], ["info"]),
}


def render(pod_event: Event, keep_original: str) -> Record:
    """The ECS document of one PoD event; `keep_original` is raw_data, unmapped or none."""
    event, text = event_and_text(pod_event) if keep_original == "raw_data" else (pod_event.body, "")
    kind = pod_event.kind
    dataset = DATASETS.get(kind, kind)
    fields = (
        _audit(event) if kind == "audit" else _mail(event) if kind == "maillog" else ecs_message.fields(event)
    )
    envelope = _envelope(pod_event, dataset)
    document = envelope | fields
    for key in ("event", "labels"):  # both sides write these: merge, do not replace
        document[key] = envelope[key] | fields.get(key, {})
    _keep(document, event, dataset, keep_original, text)
    return compact(document)  # type: ignore[no-any-return]  # ours: built just now


def _envelope(pod_event: Event, dataset: str) -> Record:
    context = pod_event.context
    return {
        "@timestamp": iso_utc(_millis(pod_event.body.get("ts"), pod_event.ts)),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "event",
            "id": pod_event.event_id,
            "dataset": f"proofpoint_on_demand.{dataset}",
        },
        "data_stream": {"type": "logs", "dataset": f"proofpoint_on_demand.{dataset}"},
        "organization": {"name": context.get("tenant_name")},
        "labels": {"connector": context.get("connector")},
        "agent": _agent(context.get("collector_host")),
    }


def _agent(host: str | None) -> Record:
    """The shipper, as Elastic Agent writes itself (`observer` is the PoD host that logged it)."""
    return {"type": "podship", "name": host} if host else {}


def _millis(ts: Any, rounded: int) -> int:
    """The event time truncated to the millisecond, as Elasticsearch's date processor keeps it (the
    record's `timestamp` is rounded); the record's time where `ts` does not parse."""
    try:
        moment = datetime.fromisoformat(str(ts).strip())
    except ValueError:
        return rounded
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _keep(document: Record, event: dict[str, Any], dataset: str, place: str, text: str) -> None:
    """The original event: as JSON text in event.original, or under proofpoint_on_demand.<dataset>
    with snake_case keys (close to, not exactly, the integration's custom fields)."""
    if place == "raw_data":
        document["event"]["original"] = text
    elif place == "unmapped":
        document["proofpoint_on_demand"] = {dataset: snake_keys(event)}


def snake_keys(value: Any) -> Any:
    """`msgSizeBytes` -> `msg_size_bytes`, `message-id` -> `message_id`, recursively; a new value."""
    if isinstance(value, dict):
        return {_snake(str(key)): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _snake(key: str) -> str:
    """Cached: keys are PoD's field names and header names, a small vocabulary that every event
    repeats (converting each key of each event, char by char, made `unmapped` cost 4 times the
    rest of the document)."""
    out = [f"_{char.lower()}" if char.isupper() and index else char.lower() for index, char in enumerate(key)]
    return "".join(out).replace("-", "_")


def _mail(event: dict[str, Any]) -> dict[str, Any]:
    sm, maillog_tls = pod.sendmail(event), pod.maillog_tls(event)
    related = Related()
    found = {
        "event": {"category": ["email"], "type": ["info"]},
        "message": pod.sendmail_line(event),
        "observer": observer(event, related),
        "email": {
            "to": {"address": as_list(sm.get("to"))},
            "from": {"address": as_list(sm.get("from"))},
            "x_mailer": sm.get("mailer"),
            "message_id": sm.get("msgid"),
        },
        "network": {"protocol": str(sm["proto"]).lower() if sm.get("proto") else None},
        "tls": tls(maillog_tls["cipher"], maillog_tls["version"]),
    }
    related.add("user", as_list(sm.get("to")) + as_list(sm.get("from")))
    return found | {"related": related.fields}


def _audit(event: dict[str, Any]) -> dict[str, Any]:
    audit, action, actor = pod.audit(event), pod.audit_action(event), pod.actor(event)
    category, kinds = _AUDIT.get(action, (None, None))
    origin, related = pod.reporters(event)[0], Related()
    agent, version, service = origin.get("agent"), origin.get("version"), pod.audit_service(event)
    related.add("ip" if is_ip(agent) else "hosts", [agent])
    related.add("ip", [service.get("ipAddress"), actor["ip"]])
    related.add("user", [actor["email"], actor["id"]])
    return {
        "event": {"action": action or None, "category": category, "type": kinds},
        "observer": OBSERVER
        | {
            "ip": [agent] if is_ip(agent) else None,
            "hostname": None if is_ip(agent) else agent,
            "name": origin.get("cid"),
            "version": None if version is None else str(version),
        },
        "log": {"level": audit.get("level")},
        "service": {"id": service.get("id")},
        "labels": _labels(event),
        "source": _audit_source(actor),
        "related": related.fields,
    }


def _audit_source(actor: dict[str, Any]) -> dict[str, Any]:
    ip = actor["ip"]
    return {
        "ip": ip if is_ip(ip) else None,
        "user": {"email": actor["email"], "id": actor["id"], "roles": actor["roles"]},
    }


def _labels(event: dict[str, Any]) -> dict[str, Any]:
    tags = [tag for tag in pod.audit_tags(event) if tag.get("name")]
    return {str(tag["name"]): str(tag["value"]) for tag in tags if tag.get("value") not in (None, "")}
