"""The one way podship builds a TLS client context: verification on unless turned off on purpose."""

from __future__ import annotations

import ssl


def client_context(
    ca_file: str = "", *, verify: bool = True, cert_file: str = "", key_file: str = ""
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file or None)
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context
