"""PoD event -> OCSF 1.8.0 event (https://schema.ocsf.io/1.8.0).

`message` and `maillog` events are Email Activity (class 4009, `ocsf_email.py`). `audit` events are
Authentication (3002) for logins and logouts, and Entity Management (3004) for the rest: the PoD
audit log records what an administrator did in the management console to a managed object (a
policy, a route, an API key, a quarantine folder, a search), which is what Entity Management
describes; API Activity (6003) is for API calls and requires an `api.operation` PoD does not have,
and Account Change (3001) covers user accounts only.
"""

from __future__ import annotations

from typing import Any

from podship.core.event import readers as pod
from podship.core.event.blanks import compact
from podship.core.event.envelope import Event
from podship.core.event.readers import SCORES
from podship.core.models import ocsf_email
from podship.core.models.fields import event_and_text
from podship.core.pod import iso_utc
from podship.core.records import Record

VERSION = "1.8.0"
PRODUCT = {"name": "Proofpoint on Demand", "vendor_name": "Proofpoint"}
_CLASSES = {  # class_uid: (class name, category uid, category name)
    4009: ("Email Activity", 4, "Network Activity"),
    3002: ("Authentication", 3, "Identity & Access Management"),
    3004: ("Entity Management", 3, "Identity & Access Management"),
}
# Every field path this model writes (a rule's field is checked against them); below the OPEN
# ones, keys come from the event (tags, the original event) and any path is accepted.
FIELDS = [
    "action",
    "action_id",
    "activity_id",
    "activity_name",
    "category_name",
    "category_uid",
    "class_name",
    "class_uid",
    "direction",
    "direction_id",
    "disposition",
    "disposition_id",
    "duration",
    "is_alert",
    "message",
    "message_trace_uid",
    "protocol_name",
    "raw_data",
    "severity",
    "severity_id",
    "smtp_hello",
    "start_time",
    "status",
    "status_code",
    "status_detail",
    "status_id",
    "time",
    "time_dt",
    "type_name",
    "type_uid",
    "actor.user.email_addr",
    "actor.user.name",
    "actor.user.uid",
    "user.email_addr",
    "user.name",
    "user.uid",
    "entity.name",
    "entity.type",
    "service.name",
    "src_endpoint.hostname",
    "src_endpoint.ip",
    "dst_endpoint.hostname",
    "dst_endpoint.ip",
    "malware.classification_ids",
    "malware.name",
    "email.from",
    "email.to",
    "email.to_mailboxes",
    "email.cc",
    "email.reply_to",
    "email.subject",
    "email.message_uid",
    "email.size",
    "email.smtp_from",
    "email.smtp_to",
    "email.files.ext",
    "email.files.hashes.algorithm_id",
    "email.files.hashes.value",
    "email.files.mime_type",
    "email.files.name",
    "email.files.size",
    "email.files.type_id",
    "email.urls.hostname",
    "email.urls.path",
    "email.urls.scheme",
    "email.urls.url_string",
    "email_auth.dkim",
    "email_auth.dkim_domain",
    "email_auth.dmarc",
    "email_auth.spf",
    "metadata.log_name",
    "metadata.log_provider",
    "metadata.log_source",
    "metadata.original_event_uid",
    "metadata.product.name",
    "metadata.product.vendor_name",
    "metadata.product.version",
    "metadata.profiles",
    "metadata.tenant_uid",
    "metadata.uid",
    "metadata.version",
    "metadata.is_truncated",
    "unmapped.audit_level",
    "unmapped.country",
    "unmapped.final_module",
    "unmapped.final_rule",
    "unmapped.parent_event_uid",
    "unmapped.quarantine.folder",
    "unmapped.quarantine.rule",
    "unmapped.roles",
    "unmapped.session_id",
    "unmapped.tls.cipher",
    "unmapped.tls.cipher_bits",
    "unmapped.tls.verify",
    "unmapped.tls.version",
    "unmapped.sendmail.relay",
    "unmapped.sendmail.mailer",
    "unmapped.sendmail.delay",
    "unmapped.sendmail.xdelay",
    "unmapped.sendmail.pri",
    "unmapped.sendmail.nrcpts",
    "unmapped.sendmail.ctladdr",
    "unmapped.sendmail.daemon",
    "unmapped.sendmail.class",
    "unmapped.sendmail.auth",
] + [f"unmapped.scores.{name}" for name in (*SCORES, "overall", "engine")]
OPEN = ("unmapped.tags", "unmapped.proofpoint_on_demand")
UNKNOWN = "Unknown"
_SEVERITIES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
_LOGON = {"login": (1, "Logon"), "logout": (2, "Logoff")}
_ENTITY = {
    "create": (1, "Create"),
    "read": (2, "Read"),
    "edit": (3, "Update"),
    "delete": (4, "Delete"),
}


def render(pod_event: Event, keep_original: str) -> Record:
    """The OCSF event of one PoD event; `keep_original` is raw_data, unmapped or none."""
    event, text = event_and_text(pod_event) if keep_original == "raw_data" else (pod_event.body, "")
    kind = pod_event.kind
    body = _audit(event) if kind == "audit" else ocsf_email.email_activity(event, kind == "maillog")
    result: Record = compact(_envelope(pod_event, body) | body)
    if keep_original == "raw_data":
        result["raw_data"] = text
    elif keep_original == "unmapped":  # after compact: the event is the record's too, not ours to edit
        result.setdefault("unmapped", {})["proofpoint_on_demand"] = event
    return result


def _envelope(pod_event: Event, body: dict[str, Any]) -> Record:
    class_uid, activity_id = body["class_uid"], body["activity_id"]
    class_name, category_uid, category_name = _CLASSES[class_uid]
    severity_id = body.get("severity_id", 1)
    return {
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {body.get('activity_name', 'Other')}",
        "severity": _SEVERITIES.get(severity_id, "Other"),
        "time": pod_event.ts,
        "time_dt": iso_utc(pod_event.ts),
        "metadata": _metadata(pod_event, body.pop("profiles")),
    }


def _metadata(pod_event: Event, profiles: list[str]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "profiles": profiles,
        "product": PRODUCT | {"version": _pod_version(pod_event.body)},
        "uid": pod_event.event_id,
        "original_event_uid": pod_event.event_id,
        "log_name": pod_event.kind,
        "log_provider": "podship",
        "log_source": pod_event.context.get("connector"),
        "tenant_uid": pod_event.context.get("tenant_name"),
        "loggers": _loggers(pod_event),
    }


def _loggers(pod_event: Event) -> list[dict[str, Any]]:
    """The hop that shipped the event: podship on its host (device type 1, Server)."""
    host = pod_event.context.get("collector_host")
    return [{"name": "podship", "device": {"hostname": host, "type_id": 1, "type": "Server"}}] if host else []


def _pod_version(event: dict[str, Any]) -> Any:
    version = pod.origin(event)["version"]
    return None if version is None else str(version)


def _audit(event: dict[str, Any]) -> dict[str, Any]:
    audit, action, actor = pod.audit(event), pod.audit_action(event), pod.actor(event)
    base = _logon(actor, action) if action in _LOGON else _entity(audit, actor, action)
    base |= {
        "profiles": ["datetime"],
        "src_endpoint": {"ip": actor["ip"]},
        "severity_id": 2 if str(audit.get("level", "")).lower().startswith("warn") else 1,
        "unmapped": {"audit_level": audit.get("level"), "roles": actor["roles"], "tags": _tags(event)},
    }
    return base | _outcome(event, action)


def _user(actor: dict[str, Any]) -> dict[str, Any]:
    """OCSF's user needs a name or a uid: Unknown (as OCSF names its unknown ids) where PoD has neither."""
    name = actor["email"] or (None if actor["id"] else UNKNOWN)
    return {"name": name, "uid": actor["id"], "email_addr": ocsf_email.address(actor["email"])}


def _logon(actor: dict[str, Any], action: str) -> dict[str, Any]:
    activity_id, activity_name = _LOGON[action]
    return {
        "class_uid": 3002,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "user": _user(actor),
        "service": {"name": PRODUCT["name"]},
    }


def _entity(audit: dict[str, Any], actor: dict[str, Any], action: str) -> dict[str, Any]:
    """PoD's execute and download have no Entity Management activity: Other, named as PoD names it."""
    activity_id, activity_name = _ENTITY.get(action, (99, action.capitalize() or "Other"))
    name, kind = audit.get("resourceName"), audit.get("resourceType")
    return {
        "class_uid": 3004,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "actor": {"user": _user(actor)},
        "entity": {"name": name or kind or UNKNOWN, "type": kind},  # OCSF's entity needs a name
    }


def _tags(event: dict[str, Any]) -> dict[str, Any]:
    return {str(tag.get("name")): tag.get("value") for tag in pod.audit_tags(event) if tag.get("name")}


def _outcome(event: dict[str, Any], action: str) -> dict[str, Any]:
    """PoD tags the result as `<action>.<area>: "true" | "false"` (e.g. login.authorization)."""
    results = [str(value).lower() for name, value in _tags(event).items() if name.startswith(f"{action}.")]
    if "false" in results:
        return {"status_id": 2, "status": "Failure"}
    if "true" in results:
        return {"status_id": 1, "status": "Success"}
    return {}
