"""The syslog-index record's fields of each event type, read through core/event/readers.py.

PoD fields change shape between versions (a list, a scalar, a number as a string), so every
reader is lenient; a field that is blank here is left out of the record (records._put).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podship.core.event import readers as pod
from podship.core.event.readers import as_list, first, number


def _final_action(event: dict[str, Any]) -> dict[str, Any]:
    final = pod.final_action(event)
    if not final:
        return {}
    return {
        "final_action": final.get("action"),
        "final_module": final.get("module"),
        "final_rule": final.get("rule"),
    }


def _attachments(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    named = [(part, pod.part_name(part)) for part in parts]
    return [
        {
            "name": name,
            "type": pod.part_mime(part),
            "ext": pod.part_ext(part),
            "size_bytes": pod.part_size(part),
            "md5": part.get("md5"),
            "sha256": part.get("sha256"),
            "disposition": part.get("disposition"),
        }
        for part, name in named
        if name or part.get("disposition") == "attached"
    ]


_SCORE_FIELDS = tuple((f"{name}_score", name) for name in pod.SCORES)


def _scores(event: dict[str, Any]) -> dict[str, Any]:
    scores = pod.scores(event)
    fields = {field: scores[name] for field, name in _SCORE_FIELDS}
    fields["spam_score"], fields["spam_engine_score"] = scores["overall"], scores["engine"]
    return fields


def _origin(event: dict[str, Any]) -> dict[str, Any]:
    found = pod.origin(event)
    return {"reporting_host": found["agent"], "cluster_id": found["cid"], "pod_version": found["version"]}


def _message(event: dict[str, Any]) -> dict[str, Any]:
    connection, flt, header = pod.connection(event), pod.verdict(event), pod.Headers(event)
    tls, quarantine, parts = pod.tls_inbound(event), pod.quarantine(event), pod.parts(event)
    fields: dict[str, Any] = {
        "src_ip": connection.get("ip"),
        "src_host": connection.get("host"),
        "helo": connection.get("helo"),
        "src_country": connection.get("country"),
        "session_id": connection.get("sid"),
        "direction": flt.get("routeDirection"),
        "disposition": flt.get("disposition"),
        "queue_id": flt.get("qid"),
        "parent_event_id": flt.get("origGuid"),
        "envelope_from": pod.envelope_from(event),
        "envelope_rcpts": pod.envelope_rcpts(event),
        "header_from": first(header.get("from")),
        "header_to": as_list(header.get("to")),
        "header_cc": as_list(header.get("cc")),
        "header_reply_to": first(header.get("reply-to")),
        "subject": first(header.get("subject")),
        "message_id": first(header.get("message-id")),
        "msg_size_bytes": pod.message_size(event),
        "virus_names": pod.virus_names(event),
        "spf_result": pod.module(event, "spf").get("result"),
        "dmarc_result": pod.module(event, "dmarc").get("filterdResult"),
        "quarantine_folder": quarantine.get("folder"),
        "quarantine_rule": quarantine.get("rule"),
        "attachments": _attachments(parts),
        "urls": pod.urls(event, parts),
        "tls_version": tls.get("version"),
        "tls_cipher": tls.get("cipher"),
        "tls_cipher_bits": number(tls.get("cipherBits")),
    }
    fields.update(_final_action(event))  # in place: each `|` would copy ~30 fields
    fields.update(_scores(event))
    fields.update(_origin(event))
    return fields


def _maillog(event: dict[str, Any]) -> dict[str, Any]:
    sm, tls = pod.sendmail(event), pod.maillog_tls(event)
    fields: dict[str, Any] = {
        "raw": pod.sendmail_line(event),
        "queue_id": sm.get("qid"),
        "envelope_from": _bare(sm.get("from")),
        "envelope_rcpts": [_bare(to) for to in as_list(sm.get("to"))],
        "sendmail_status": sm.get("stat"),
        "dsn": sm.get("dsn"),
        "relay": sm.get("relay"),
        "mailer": sm.get("mailer"),
        "delay": sm.get("delay"),
        "msg_size_bytes": number(sm.get("sizeBytes")),
        "nrcpts": number(sm.get("nrcpts")),
        "message_id": sm.get("msgid"),
        "protocol": sm.get("proto"),
        "tls_version": tls["version"],
        "tls_cipher": tls["cipher"],
        "tls_verify": tls["verify"],
    }
    fields.update(_origin(event))
    return fields


def _bare(address: Any) -> Any:
    """sendmail writes `<a@b>`; message events carry `a@b`: bare, so that a join on an address
    works across types (the null sender `<>` stays as it is: it means a bounce)."""
    if isinstance(address, str) and len(address) > 2 and address[0] == "<" and address[-1] == ">":
        return address[1:-1]
    return address


def _audit(event: dict[str, Any]) -> dict[str, Any]:
    audit, actor = pod.audit(event), pod.actor(event)
    tags = {_key(tag.get("name")): tag.get("value") for tag in pod.audit_tags(event)}
    fields: dict[str, Any] = {
        "audit_action": audit.get("action"),
        "audit_level": audit.get("level"),
        "resource_type": audit.get("resourceType"),
        "resource_name": audit.get("resourceName"),
        "user_email": actor["email"],
        "user_id": actor["id"],
        "src_ip": actor["ip"],
        "user_roles": actor["roles"],
        "audit_tags": {str(name): value for name, value in tags.items() if name is not None},
    }
    fields.update(_origin(event))
    return fields


def _key(name: Any) -> Any:
    """A tag name as a map key: PoD's are strings; anything else (a map, a list) as its text."""
    return name if name is None or isinstance(name, str | int | float | bool) else str(name)


FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "message": _message,
    "maillog": _maillog,
    "audit": _audit,
}
