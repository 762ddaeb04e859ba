"""What many tests build: a record of a simulator event, a plugin's options, a pipeline file, a CA."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import trustme
import yaml

from podship.core.event.envelope import Event
from podship.core.pod import decode_frame, event_identity
from podship.core.records import arrived, render
from podship.devtools.simgen import Timeline

LINE = Timeline(seed=3)


def record(kind="message", k=1):
    """The syslog-index record of the simulator's event `k` of `kind` (seed 3), as the input makes it."""
    event = LINE.event(kind, k)
    event_id, ts = event_identity(event, kind)
    return normalise(event, kind, event_id, ts, {"tenant_name": "acme", "connector": f"acme-{kind}"})


def handed_on(kind, body, context):
    """`body` as the PoD input hands it on (Connector.receive): the frame's text, of which the
    input read only the id and time; parsed where a rule or an output first reads it."""
    frame = decode_frame(json.dumps(body).encode(), 1 << 24)
    assert frame.head is not None and frame.event is None  # strict, one line: not parsed at the input
    event_id, ts = event_identity(frame.head, kind)
    return arrived(None, kind, event_id, ts, context, text=frame.text)


def normalise(body, kind, event_id, ts, context, *, text=b""):
    """The syslog-index record an output sends for one PoD event (which it takes over), carried
    as `context["original"]` says: the input's `arrived`, then the output's `render`."""
    event = arrived(body, kind, event_id, ts, context, text=text)
    return render(event, context.get("original", "compact"))


def as_event(record):
    """An event whose syslog-index record is `record` as it stands (edited by hand, as a test
    needs it), as the relay hands one on: what the outputs' tests deliver."""
    return Event.relay(record, int(record.get("timestamp") or 0))


def options(table, **values):
    """A plugin's options as a pipeline file with `values` gives them: validated, defaults filled."""
    return table.validate(values, file="<test>")


def write_pipeline(path, inputs, *, service=None, outputs=None, filters=None):
    """A pipeline file in Fluent Bit's YAML shape."""
    pipeline = {"inputs": inputs, "filters": filters or [], "outputs": outputs or [{"name": "stdout"}]}
    document = {"service": service or {}, "pipeline": pipeline}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class Authority:
    """One test CA: a server context for 127.0.0.1, the CA file that trusts it, client certificates."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = str(folder / "ca.pem")
        self.folder = folder
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server(self, *, client_certificates: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        if client_certificates:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context

    def client(self, name: str = "podship.client") -> dict[str, str]:
        """A client certificate and key, as the output options that name them."""
        issued = self.ca.issue_cert(name)
        cert, key = self.folder / f"{name}.pem", self.folder / f"{name}-key.pem"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        return {"tls_cert_file": str(cert), "tls_key_file": str(key)}
