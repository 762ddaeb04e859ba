"""A private rsyslog on loopback (UDP, TCP, TLS inputs) that writes every parsed field as JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

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


# The Debian package of each rsyslog module the tests load that does not come with rsyslog itself.
PACKAGES = {"lmnsd_gtls": "rsyslog-gnutls", "lmnsd_ossl": "rsyslog-openssl"}


def _missing(package: str, what: str) -> NoReturn:
    """CI installs every package (`.ci/run`), so there a missing one is a failure; elsewhere a skip."""
    how = f"{what}: install the package {package} (apt-get install {package}); tests/run.sh does as root"
    if os.environ.get("CI"):
        raise RuntimeError(how)
    pytest.skip(how)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Rsyslog:
    def __init__(
        self,
        folder: Path,
        max_message: str = "512k",
        tcp_port: int = 0,
        max_frame: str = "",
        module_dir: str | None = None,
    ) -> None:
        binary = shutil.which("rsyslogd") or (
            "/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None
        )
        if binary is None:
            _missing("rsyslog", "rsyslogd is not installed")
        self.dir, self.binary, self.module_dir = folder, binary, module_dir
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
        if self.module_dir:
            command += ["-M", self.module_dir]
        self.stderr = (self.dir / "stderr").open("wb")
        self.process = subprocess.Popen(command, stderr=self.stderr)
        try:
            self._wait_until_listening()
        except BaseException:  # a skip too: a server that did not start is never left running
            self.stop()
            raise
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + 20  # a loaded machine
        while time.monotonic() < deadline:
            if (self.dir / "tls.port").exists() and (self.tcp_port or (self.dir / "tcp.port").exists()):
                time.sleep(0.2)  # rsyslog writes a port file only for a port it chose itself
                self.tls = int((self.dir / "tls.port").read_text())
                self.tcp = self.tcp_port or int((self.dir / "tcp.port").read_text())
                return
            self._check_failure()
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not start within 20 s: {self._stderr()}")

    def _check_failure(self) -> None:
        """rsyslogd keeps running when a module fails to load, without the inputs that need it."""
        found = re.search(r"could not load module '(\w+)'", self._stderr())
        if found:
            package = PACKAGES.get(found.group(1), "rsyslog")
            _missing(package, f"rsyslogd could not load its module {found.group(1)!r}")
        if self.process.poll() is not None:
            raise RuntimeError(f"rsyslogd exited with {self.process.returncode}: {self._stderr()}")

    def _stderr(self) -> str:
        return (self.dir / "stderr").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
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
