"""Deterministic PoD events for the simulator: event k of a type is a pure function of the seed.

Each type has its own timeline: event k is generated at `epoch + k / rate` (simulator time) and
carries a `ts` up to `jitter_ms` earlier, so timestamps arrive a little out of order as they do from
PoD. Tests ask the same timeline which ids exist in a period and compare with what podship shipped.
"""

from __future__ import annotations

import base64
import hashlib
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

DEFAULT_RATES = {"message": 2.0, "maillog": 5.0, "audit": 0.2}
_OFFSETS = (-7 * 60, 0, 330, -4 * 60, 60)  # minutes; PoD writes the cluster's local offset
_DISPOSITIONS = ("continue", "accept", "discard", "reject", "quarantine", "retry")
_DIRECTIONS = ("inbound", "outbound", "internal")
_SUBJECTS = (
    "Quarterly report",
    'Invoice "Q3" [urgent] \\ paid',
    "Réunion — café ☕ at 10",
    "Line one\nline two\tTabbed",
    "Your parcel 📦 is on its way",
)
_ACTIONS = ("login", "logout", "create", "edit", "delete", "read", "execute", "download")


@dataclass(frozen=True)
class Timeline:
    """When each event of each type happens, and what it contains."""

    seed: int = 1
    epoch_ms: int = 1_793_491_200_000  # 2026-11-01T00:00:00Z
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    jitter_ms: int = 2000
    big_every: int = 0  # every Nth message event carries over 1 MiB of msgParts; 0 = never
    big_bytes: int = 1_200_000

    def at(self, kind: str, k: int) -> int:
        """Simulator time (ms) at which event k of `kind` is generated."""
        return self.epoch_ms + math.floor(k * 1000 / self.rates[kind])

    def index(self, kind: str, ms: int) -> int:
        """The first k generated at or after `ms`."""
        k = math.ceil((ms - self.epoch_ms) * self.rates[kind] / 1000)
        while self.at(kind, k - 1) >= ms:
            k -= 1
        while self.at(kind, k) < ms:
            k += 1
        return k

    def _digest(self, kind: str, k: int) -> bytes:
        return hashlib.blake2b(f"{self.seed}:{kind}:{k}".encode(), digest_size=32).digest()

    def ts(self, kind: str, k: int) -> int:
        """Event time (ms UTC): the generation time less a little jitter."""
        jitter = int.from_bytes(self._digest(kind, k)[:4], "big") % (self.jitter_ms + 1)
        return self.at(kind, k) - jitter

    def event_id(self, kind: str, k: int) -> str:
        digest = self._digest(kind, k)
        if kind == "message":
            return base64.urlsafe_b64encode(digest[8:32]).decode()
        if kind == "maillog":
            return base64.b64encode(digest[8:24]).decode()[:22]
        return str(uuid.UUID(bytes=digest[8:24]))

    def ids(self, kind: str, since_ms: int, until_ms: int) -> Iterator[str]:
        """Ids of the events of `kind` whose `ts` lies in `[since_ms, until_ms)`."""
        for k in range(self.index(kind, since_ms), self.index(kind, until_ms + self.jitter_ms + 1)):
            if since_ms <= self.ts(kind, k) < until_ms:
                yield self.event_id(kind, k)

    def event(self, kind: str, k: int) -> dict[str, Any]:
        maker = {"message": _message, "maillog": _maillog, "audit": _audit}[kind]
        return maker(self, k, self._digest(kind, k))


def _stamp(ms: int, offset_minutes: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{hours:02d}{minutes:02d}"


def _pick(options: tuple[Any, ...], byte: int) -> Any:
    return options[byte % len(options)]


def _ip(digest: bytes) -> str:
    if digest[20] % 5 == 0:
        return f"2001:db8::{digest[21]:x}:{digest[22]:x}"
    return f"{10 + digest[21] % 3 * 81}.{digest[22]}.{digest[23]}.{digest[24] % 254 + 1}"


def _message(line: Timeline, k: int, digest: bytes) -> dict[str, Any]:
    ts = _stamp(line.ts("message", k), _pick(_OFFSETS, digest[5]))
    sender = f"user{digest[6] % 50}@{_pick(('example.com', 'partner.example', 'mail.test'), digest[7])}"
    rcpts = [f"rcpt{digest[8 + i] % 90}@acme.example" for i in range(1 + digest[9] % 3)]
    subject = _pick(_SUBJECTS, digest[10])
    final_flag: Any = "True" if digest[11] % 7 == 0 else True
    event: dict[str, Any] = {
        "guid": line.event_id("message", k),
        "ts": ts,
        "connection": {
            "sid": f"3s{k:010d}",
            "ip": _ip(digest),
            "host": f"mx{digest[12] % 9}.sender.example",
            "helo": "mail.sender.example",
            "country": _pick(("us", "de", "fr", "**", "jp"), digest[13]),
            "protocol": "smtp:esmtp",
            "resolveStatus": "ok",
            "tls": {
                "inbound": {
                    "cipher": "ECDHE-RSA-AES256-GCM-SHA384",
                    "cipherBits": 256,
                    "version": "TLSv1.2",
                    "policy": "inbound",
                }
            },
        },
        "envelope": {
            "from": sender,
            "rcpts": rcpts,
            "fromHashed": digest[:8].hex(),
            "rcptsHashed": [digest[8:16].hex()],
        },
        "filter": {
            "qid": f"4{k:09d}",
            "mid": k,
            "origGuid": line.event_id("message", k - 1) if digest[14] % 10 == 0 else None,
            "startTime": ts,
            "durationSecs": round(digest[15] / 100, 3),
            "msgSizeBytes": 2000 + digest[16] * 40 if digest[17] % 4 else str(2000 + digest[16] * 40),
            "disposition": _pick(_DISPOSITIONS, digest[18]),
            "routeDirection": _pick(_DIRECTIONS, digest[19]),
            "routes": ["default_inbound", "allow_relay"][: 1 + digest[19] % 2],
            "currentFolder": None,
            "actions": [
                {"module": "access", "rule": "default", "action": "continue", "isFinal": False},
                {
                    "module": "spam",
                    "rule": _pick(("bulk", "phish", "spam"), digest[20]),
                    "action": _pick(_DISPOSITIONS, digest[18]),
                    "isFinal": final_flag,
                },
            ],
            "delivered": {"rcpts": rcpts},
            "suborgs": {"sender": "0", "rcpts": ["0"]},
            "quarantine": {
                "folder": "Spam",
                "rule": "spam",
                "module": "spam",
                "folderId": 12,
                "type": "folder",
            }
            if digest[18] % 6 == 4
            else {},
            "isMsgEncrypted": False,
            "isMsgReinjected": digest[21] % 9 == 0,
            "throttleIp": "",
            "pe": {"rcpts": rcpts} if digest[22] % 2 else {"rcpts": {"count": len(rcpts)}},
            "modules": {
                "spam": {
                    "scores": {
                        "overall": digest[23] % 101,
                        "engine": digest[24] % 101,
                        "classifiers": {
                            name: digest[25 + i % 6] % 101
                            for i, name in enumerate(
                                (
                                    "spam",
                                    "phish",
                                    "malware",
                                    "adult",
                                    "bulk",
                                    "impostor",
                                    "suspect",
                                    "lowpriority",
                                    "mlx",
                                    "mlxlog",
                                )
                            )
                        },
                    },
                    "triggeredClassifier": "spam",
                    "langs": ["en"],
                    "version": {"engine": "8.21.0", "definitions": "2026-11-01"},
                },
                "av": {"virusNames": ["EICAR-Test-File"] if digest[26] % 25 == 0 else []},
                "zerohour": {"score": "neutral"},
                "spf": {
                    "result": _pick(("pass", "fail", "softfail", "none"), digest[27]),
                    "domain": sender.split("@")[1],
                },
                "dkimv": [{"domain": sender.split("@")[1], "selector": "s1", "result": "pass"}],
                "dmarc": {
                    "authResults": [
                        {"method": "spf", "result": "pass", "emailIdentities": {"smtp.mailfrom": sender}},
                        {"method": "dkim", "result": "pass", "propspec": {"header.d": sender.split("@")[1]}},
                    ],
                    "alignment": [
                        {
                            "fromDomain": sender.split("@")[1],
                            "results": [{"identity": "header.from", "result": "pass"}],
                        }
                    ],
                    "records": [{"query": f"_dmarc.{sender.split('@')[1]}", "record": "v=DMARC1; p=none"}],
                    "filterdResult": "pass",
                    "srvid": "podsim",
                },
                "urldefense": {
                    "counts": {"total": 1, "rewritten": 1},
                    "rewrittenUrls": ["https://urldefense.example/v3/x"],
                },
            },
        },
        "msg": {
            "header": {
                "from": [f"<{sender}>"],
                "to": rcpts,
                "subject": [subject],
                "message-id": [f"<{k}.{digest[28]}@sender.example>"],
            },
            "normalizedHeader": {
                "from": [sender],
                "to": rcpts,
                "subject": [subject],
                "message-id": [f"<{k}.{digest[28]}@sender.example>"],
                "x-mailer": ["podsim 1.0"],
            },
            "parsedAddresses": {"from": [sender], "to": rcpts} if digest[29] % 5 else {},
            "lang": "en",
            "sizeBytes": 2000 + digest[16] * 40,
        },
        "msgParts": _parts(line, k, digest),
    }
    if digest[30] % 3 == 0:
        event["pps"] = {"agent": "m0000123.ppops.net", "cid": "acme_hosted", "version": "8.20.6"}
    else:
        event["metadata"] = {
            "origin": {
                "data": {
                    "agent": "m0000123.ppops.net",
                    "cid": "acme_hosted",
                    "version": "8.21.0.1358",
                    "theater": "us",
                }
            }
        }
    return event


def _parts(line: Timeline, k: int, digest: bytes) -> list[dict[str, Any]]:
    body = {
        "structureId": "0",
        "disposition": "inline",
        "detectedMime": "text/plain",
        "detectedSizeBytes": 100 + digest[2],
        "md5": digest[:16].hex(),
        "sha256": digest.hex(),
        "isArchive": False,
        "isCorrupted": False,
        "metadata": {"": "empty key", "Page Count": "2", "dc.title": "Invoice"},
        "urls": [
            {
                "url": f"https://links.example/{k}",
                "src": ["body"],
                "isRewritten": True,
                "notRewrittenReason": "",
            }
        ],
    }
    parts = [body]
    if digest[3] % 3 == 0:
        parts.append(
            {
                "structureId": "1",
                "disposition": "attached",
                "labeledName": f"report-{k}.pdf",
                "detectedName": f"report-{k}.pdf",
                "detectedExt": "pdf",
                "detectedMime": "application/pdf",
                "detectedSizeBytes": 40_000 + digest[4] * 10,
                "md5": digest[16:32].hex(),
                "sha256": digest[::-1].hex(),
                "sandboxStatus": "clean",
            }
        )
    if line.big_every and k % line.big_every == 0:
        filler = base64.b64encode(digest * (line.big_bytes // 43 + 1)).decode()[: line.big_bytes]
        parts.append(
            {
                "structureId": "2",
                "disposition": "attached",
                "detectedName": f"big-{k}.bin",
                "dataBase64": filler,
            }
        )
    return parts


def _maillog(line: Timeline, k: int, digest: bytes) -> dict[str, Any]:
    ms = line.ts("maillog", k)
    qid = f"45J{k:09d}"
    rcpt = f"rcpt{digest[8] % 90}@acme.example"
    stat = _pick(("Sent (Ok: queued)", "Deferred: Connection timed out", "User unknown"), digest[9])
    local = _stamp(ms, -420)
    data = (
        f"{local[:26]}-07:00 m0000123 sendmail[{17000 + digest[10]}]: {qid}: to=<{rcpt}>, "
        f"delay=00:00:0{digest[11] % 10}, mailer=esmtp, pri={digest[12] * 100}, "
        f"relay=mx.acme.example. [10.1.2.3], dsn=2.0.0, stat={stat}"
    )
    return {
        "id": line.event_id("maillog", k),
        "ts": _stamp(ms, _pick(_OFFSETS, digest[5])),
        "data": data,
        "sm": {
            "qid": qid,
            "to": [f"<{rcpt}>"],
            "delay": f"00:00:0{digest[11] % 10}",
            "mailer": "esmtp",
            "pri": str(digest[12] * 100),
            "relay": "mx.acme.example. [10.1.2.3]",
            "dsn": "2.0.0",
            "stat": stat,
            "sizeBytes": str(1000 + digest[13] * 10),
            "nrcpts": "1",
            "proto": "ESMTP",
            "tls.verify": "NONE",
        },
        "tls": {"verify": "NONE", "version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"},
        "pps": {"agent": "m0000123.ppops.net", "cid": "acme_hosted"},
        "metadata": {
            "customerId": "1234",
            "origin": {
                "schemaVersion": "20200420",
                "data": {"agent": "m0000123.ppops.net", "cid": "acme_hosted"},
            },
        },
    }


def _audit(line: Timeline, k: int, digest: bytes) -> dict[str, Any]:
    return {
        "guid": line.event_id("audit", k),
        "ts": _stamp(line.ts("audit", k), 0),
        "audit": {
            "action": _pick(_ACTIONS, digest[5]),
            "level": _pick(("info", "warn"), digest[6]),
            "resourceType": _pick(("user", "policy", "quarantine_folder"), digest[7]),
            "resourceName": f"resource-{digest[8]}",
            "tags": [{"name": "console", "value": "admin"}, {"name": "module", "value": "spam"}],
            "user": {
                "email": f"admin{digest[9] % 4}@acme.example",
                "id": str(digest[10]),
                "ipAddress": _ip(digest),
                "rolesAssigned": ["admin"],
            },
            "service": {"cid": "acme_hosted", "customerId": "1234", "id": "svc", "ipAddress": "10.0.0.1"},
        },
        "metadata": {
            "customerId": "1234",
            "origin": {
                "type": "audit",
                "schemaVersion": "1",
                "data": {"agent": "console", "cid": "acme_hosted", "version": "1.0"},
            },
            "trace": [],
        },
    }
