"""TLS settings for SIP (RFC 3261 §26.2, RFC 5922), stdlib ssl only.

    tls = TlsConfig(cert="me.pem", key="me.key", ca="corp-ca.pem")
    agent = await SipAgent.start(("0.0.0.0", 5061), transports=("TLS",), tls=tls)

- Outgoing connections verify the server's certificate chain and name (the host
  we connect to: a domain name or an IP literal, matched against the certificate's
  subjectAltName) against the system's trust store, or only against `ca` when one
  is given (a private PBX's CA). TLS 1.2 is the floor.
- Listening needs `cert` (PEM chain) and `key`; clients are not asked for a
  certificate (SIP clients rarely have one; digest auth identifies them).
- `insecure_no_verify=True` is the only way to switch verification off; it is
  logged as a warning every time a context is built, so it never goes unnoticed.
"""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from offhook.errors import OffhookError

__all__ = ["TlsConfig", "TlsError", "describe_tls_error"]

log = logging.getLogger("offhook.sip")


class TlsError(OffhookError, ValueError):
    """A TLS setting is unusable (missing or unreadable certificate, key or CA file)."""


@dataclass(frozen=True)
class TlsConfig:
    cert: Path | str | None = None       # our certificate chain (PEM), to listen on TLS
    key: Path | str | None = None        # its private key (PEM)
    ca: Path | str | None = None         # trust only these CAs (PEM) instead of the system store
    insecure_no_verify: bool = False     # DANGER: accept any server certificate and name

    @property
    def can_listen(self) -> bool:
        return self.cert is not None and self.key is not None

    def server_context(self) -> ssl.SSLContext:
        if self.cert is None or self.key is None:
            raise TlsError("listening on TLS needs a certificate and its key (tls_cert and tls_key)")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot load the TLS certificate {self.cert} / key {self.key}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        return ctx

    def client_context(self) -> ssl.SSLContext:
        if self.insecure_no_verify:
            log.warning("TLS certificate verification is OFF (insecure_no_verify): "
                        "anyone on the path can read and change this signalling")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:   # verify_mode CERT_REQUIRED and check_hostname on; `ca` replaces the system store
                ctx = ssl.create_default_context(cafile=str(self.ca) if self.ca is not None else None)
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(f"cannot load the TLS CA file {self.ca}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


def describe_tls_error(exc: BaseException) -> str:
    """A short reason for a failed TCP/TLS connection: "certificate verify failed: self-signed
    certificate in certificate chain" rather than the ssl module's bracketed form."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return exc.reason.lower().replace("_", " ") if exc.reason else str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)
