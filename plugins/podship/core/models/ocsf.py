"""Syslog-index record -> OCSF 1.8.0 event (https://schema.ocsf.io/1.8.0).

`message` and `maillog` events are Email Activity (class 4009, `ocsf_email.py`). `audit` events are
Authentication (3002) for logins and logouts, and Entity Management (3004) for the rest: the PoD
audit log records what an administrator did in the management console to a managed object (a
policy, a route, an API key, a quarantine folder, a search), which is what Entity Management
describes; API Activity (6003) is for API calls and requires an `api.operation` PoD does not have,
and Account Change (3001) covers user accounts only.
"""

from __future__ import annotations

from typing import Any

from podship.core.models import ocsf_email
from podship.core.models.fields import event_and_text, section
from podship.core.pod import iso_utc
from podship.core.records import Record, as_list, compact, dig, original

VERSION = "1.8.0"
PRODUCT = {"name": "Proofpoint on Demand", "vendor_name": "Proofpoint"}
_CLASSES = {  # class_uid: (class name, category uid, category name)
    4009: ("Email Activity", 4, "Network Activity"),
    3002: ("Authentication", 3, "Identity & Access Management"),
    3004: ("Entity Management", 3, "Identity & Access Management"),
}
_SEVERITIES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
_LOGON = {"login": (1, "Logon"), "logout": (2, "Logoff")}
_ENTITY = {
    "create": (1, "Create"),
    "read": (2, "Read"),
    "edit": (3, "Update"),
    "delete": (4, "Delete"),
}


def render(record: Record, keep_original: str) -> Record:
    """The OCSF event of one syslog-index record; `keep_original` is raw_data, unmapped or none."""
    event, text = event_and_text(record) if keep_original == "raw_data" else (original(record), "")
    kind = record.get("event_type")
    body = _audit(event) if kind == "audit" else ocsf_email.email_activity(event, kind == "maillog")
    result: Record = compact(_envelope(record, event, body) | body)
    if keep_original == "raw_data":
        result["raw_data"] = text
    elif keep_original == "unmapped":  # after compact: the event is the record's too, not ours to edit
        result.setdefault("unmapped", {})["proofpoint_on_demand"] = event
    return result


def _envelope(record: Record, event: dict[str, Any], body: dict[str, Any]) -> Record:
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
        "time": int(record.get("timestamp", 0)),
        "time_dt": iso_utc(int(record.get("timestamp", 0))),
        "metadata": _metadata(record, event, body.pop("profiles")),
    }


def _metadata(record: Record, event: dict[str, Any], profiles: list[str]) -> dict[str, Any]:
    return {
        "version": VERSION,
        "profiles": profiles,
        "product": PRODUCT | {"version": _pod_version(event)},
        "uid": record.get("event_id"),
        "original_event_uid": record.get("event_id"),
        "log_name": record.get("event_type"),
        "log_provider": "podship",
        "log_source": record.get("connector"),
        "tenant_uid": record.get("tenant_name"),
        "loggers": _loggers(record),
    }


def _loggers(record: Record) -> list[dict[str, Any]]:
    """The hop that shipped the event: podship on its host (device type 1, Server)."""
    host = record.get("collector_host")
    return [{"name": "podship", "device": {"hostname": host, "type_id": 1, "type": "Server"}}] if host else []


def _pod_version(event: dict[str, Any]) -> Any:
    version = dig(event, "metadata", "origin", "data", "version") or dig(event, "pps", "version")
    return None if version is None else str(version)


def _audit(event: dict[str, Any]) -> dict[str, Any]:
    audit = section(event, "audit")
    action = str(audit.get("action") or "").lower()
    base = _logon(audit, action) if action in _LOGON else _entity(audit, action)
    base |= {
        "profiles": ["datetime"],
        "src_endpoint": {"ip": dig(audit, "user", "ipAddress")},
        "severity_id": 2 if str(audit.get("level", "")).lower().startswith("warn") else 1,
        "unmapped": {
            "audit_level": audit.get("level"),
            "roles": as_list(dig(audit, "user", "rolesAssigned")),
            "tags": _tags(audit),
        },
    }
    return base | _outcome(audit, action)


def _user(audit: dict[str, Any]) -> dict[str, Any]:
    email = dig(audit, "user", "email")
    return {"name": email, "uid": dig(audit, "user", "id"), "email_addr": ocsf_email.address(email)}


def _logon(audit: dict[str, Any], action: str) -> dict[str, Any]:
    activity_id, activity_name = _LOGON[action]
    return {
        "class_uid": 3002,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "user": _user(audit),
        "service": {"name": PRODUCT["name"]},
    }


def _entity(audit: dict[str, Any], action: str) -> dict[str, Any]:
    """PoD's execute and download have no Entity Management activity: Other, named as PoD names it."""
    activity_id, activity_name = _ENTITY.get(action, (99, action.capitalize() or "Other"))
    name, kind = audit.get("resourceName"), audit.get("resourceType")
    return {
        "class_uid": 3004,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "actor": {"user": _user(audit)},
        "entity": {"name": name or kind, "type": kind},
    }


def _tags(audit: dict[str, Any]) -> dict[str, Any]:
    pairs = [tag for tag in as_list(audit.get("tags")) if isinstance(tag, dict)]
    return {str(tag.get("name")): tag.get("value") for tag in pairs if tag.get("name")}


def _outcome(audit: dict[str, Any], action: str) -> dict[str, Any]:
    """PoD tags the result as `<action>.<area>: "true" | "false"` (e.g. login.authorization)."""
    results = [str(value).lower() for name, value in _tags(audit).items() if name.startswith(f"{action}.")]
    if "false" in results:
        return {"status_id": 2, "status": "Failure"}
    if "true" in results:
        return {"status_id": 1, "status": "Success"}
    return {}
