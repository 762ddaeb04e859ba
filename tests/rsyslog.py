"""A private rsyslog on loopback (UDP, TCP, TLS inputs) that writes every parsed field as JSON."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import trustme

TEMPLATE = """
global(workDirectory="{dir}" maxMessageSize="{max_message}" parser.escapeControlCharactersOnReceive="off"
       defaultNetstreamDriverCAFile="{dir}/ca.pem" defaultNetstreamDriverCertFile="{dir}/cert.pem"
       defaultNetstreamDriverKeyFile="{dir}/key.pem")
module(load="imudp")
module(load="imtcp" maxSessions="100"{imtcp})
input(type="imudp" address="127.0.0.1" port="{udp}" name="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" listenPortFileName="{dir}/tcp.port" name="tcp")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{dir}/tls.port" name="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="fields" type="list" option.jsonf="on") {{
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
action(type="omfile" file="{dir}/out.jsonl" template="fields")
"""


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Rsyslog:
    def __init__(
        self, folder: Path, max_message: str = "512k", tcp_port: int = 0, max_frame: str = ""
    ) -> None:
        binary = shutil.which("rsyslogd") or (
            "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
        )
        if binary is None:
            if os.environ.get("CI"):
                raise RuntimeError(
                    "rsyslogd is missing: .ci/run installs it (apt-get install rsyslog rsyslog-gnutls)"
                )
            pytest.skip(
                "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls); CI runs these tests"
            )
        self.dir, self.binary = folder, binary
        self.tcp_port = tcp_port
        folder.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA()
        cert = authority.issue_cert("127.0.0.1", "localhost")
        authority.cert_pem.write_to_path(str(folder / "ca.pem"))
        cert.private_key_pem.write_to_path(str(folder / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
        self.ca_file = str(folder / "ca.pem")
        self.udp = _free_udp_port()
        (folder / "rsyslog.conf").write_text(
            TEMPLATE.format(
                dir=folder,
                udp=self.udp,
                max_message=max_message,
                tcp_port=tcp_port,
                imtcp=f' maxFrameSize="{max_frame}"' if max_frame else "",
            )
        )

    def start(self) -> Rsyslog:
        command = [self.binary, "-n", "-f", str(self.dir / "rsyslog.conf"), "-i", str(self.dir / "pid")]
        self.stderr = (self.dir / "stderr").open("wb")
        self.process = subprocess.Popen(command, stderr=self.stderr)
        for _ in range(400):  # 20 s: a loaded machine
            if (self.dir / "tls.port").exists() and (self.tcp_port or (self.dir / "tcp.port").exists()):
                time.sleep(0.2)  # rsyslog writes a port file only for a port it chose itself
                self.tls = int((self.dir / "tls.port").read_text())
                self.tcp = self.tcp_port or int((self.dir / "tcp.port").read_text())
                return self
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not start: {(self.dir / 'stderr').read_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.stderr.close()

    def messages(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            path = self.dir / "out.jsonl"
            text = path.read_text() if path.exists() else ""
            lines = text[: text.rfind("\n") + 1].splitlines()  # rsyslog may be mid-way through a line
            if len(lines) >= count:
                return [json.loads(line) for line in lines]
            time.sleep(0.05)
        raise AssertionError(f"rsyslog wrote {len(lines)} of {count} messages")
