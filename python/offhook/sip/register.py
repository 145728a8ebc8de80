"""REGISTER client (RFC 3261 §10), sans-I/O: one binding of one account at one registrar.

The Registration builds each REGISTER (same Call-ID, CSeq up by one), reads the
answer and says when to refresh; the user agent core sends and routes them.

- Digest challenges (401/407) are answered once per nonce through DigestClient;
  a refused password ends in `failed` with "authentication failed (401) at HOST:PORT".
- The granted expiry is our Contact's `expires` in the 200 (else the Expires
  header, else what we asked). The refresh is due at max(half, expiry - 30 s)
  so a 1 h binding refreshes 30 s early and a 60 s one after 30 s.
- 423 Interval Too Brief: retried once with the registrar's Min-Expires.
- Failover: a 503, a transport error or no answer moves the REGISTER to the next of
  `alternates` (RFC 3263 §4.3: the rest of the lookup's servers), if any.
- unregister() sends Expires: 0 for our Contact (RFC 3261 §10.2.2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from offhook.errors import OffhookError, SipAuthError, SipParseError
from offhook.sip.auth import DigestClient
from offhook.sip.dialog import LocalContact, initial_cseq, new_call_id, new_tag
from offhook.sip.message import Request, Response
from offhook.sip.uri import SipURI

__all__ = ["RegState", "Registration", "RegistrationError", "refresh_delay"]

Address = tuple[str, int]


class RegistrationError(OffhookError):
    """A registration failed; str(error) is the one-line reason."""


class RegState(Enum):
    IDLE = "idle"
    REGISTERING = "registering"
    REGISTERED = "registered"
    UNREGISTERING = "unregistering"
    UNREGISTERED = "unregistered"
    FAILED = "failed"


def refresh_delay(expires: int) -> float:
    """Seconds after a successful REGISTER to send the refresh."""
    return float(max(expires / 2, expires - 30))


@dataclass
class Registration:
    aor: SipURI                       # sip:alice@example.com
    registrar: Address                # where REGISTERs go
    contact: LocalContact
    expires: int = 3600
    auth: DigestClient | None = None
    transport: str = "UDP"
    state: RegState = RegState.IDLE
    granted: int | None = None
    refresh_at: float | None = None
    reason: str = ""
    call_id: str = field(default="")
    _tag: str = field(default_factory=new_tag)
    _cseq: int = field(default_factory=initial_cseq)
    _retried_423: bool = False
    # Further servers to try, in order, when the registrar answers 503 or cannot be
    # reached (RFC 3263 §4.3: the rest of the lookup's targets): (address, transport).
    alternates: list[tuple[Address, str]] = field(default_factory=list)

    def use_servers(self, servers: list[tuple[Address, str]]) -> None:
        """Register at the first of `servers` ((address, transport), e.g. the targets of an
        RFC 3263 lookup), failing over to the others in order."""
        if not servers:
            raise ValueError("use_servers() needs at least one server")
        (self.registrar, self.transport), *rest = servers
        self.alternates = list(rest)

    def fail_over(self) -> bool:
        """Move to the next alternate server (False when there is none left)."""
        if not self.alternates:
            return False
        self.registrar, self.transport = self.alternates.pop(0)
        self.state = RegState.REGISTERING
        return True

    def __post_init__(self) -> None:
        if not self.call_id:
            self.call_id = new_call_id(self.contact.host)
        if isinstance(self.expires, bool) or not isinstance(self.expires, int) or self.expires < 0:
            raise ValueError(f"expires must be a non-negative integer of seconds, got {self.expires!r}")

    @property
    def peer(self) -> str:
        return f"{self.registrar[0]}:{self.registrar[1]}"

    def request(self, *, unregister: bool = False) -> Request:
        """The next REGISTER (authorized when a challenge is cached)."""
        self._cseq += 1
        self.state = RegState.UNREGISTERING if unregister else RegState.REGISTERING
        registrar_uri = SipURI(host=self.aor.host, port=self.aor.port)
        req = Request(method="REGISTER", uri=registrar_uri)
        req.add_header("Via", self.contact.via())
        req.add_header("Max-Forwards", "70")
        aor = SipURI(host=self.aor.host, user=self.aor.user, port=self.aor.port)
        req.add_header("From", f"<{aor}>;tag={self._tag}")
        req.add_header("To", f"<{aor}>")
        req.add_header("Call-ID", self.call_id)
        req.add_header("CSeq", f"{self._cseq} REGISTER")
        req.add_header("Contact", self.contact.contact())
        req.add_header("Expires", "0" if unregister else str(self.expires))
        req.add_header("User-Agent", "offhook")
        req.add_header("Content-Length", "0")
        if self.auth is not None:
            self.auth.authorize(req)
        return req

    def unregister(self) -> Request:
        return self.request(unregister=True)

    def receive_response(self, response: Response, now: float) -> Request | None:
        """Take a final response; returns the REGISTER to send next (auth retry, 423),
        or None when done (check `state`, `reason`)."""
        status = response.status
        if status < 200:
            return None
        unregistering = self.state is RegState.UNREGISTERING
        if status in (401, 407):
            if self.auth is None:
                return self._fail(f"authentication required ({status}) at {self.peer}: "
                                  "no credentials (pass --user and --password)")
            try:
                self.auth.handle_response(response, peer=self.peer)
            except SipAuthError as exc:
                return self._fail(str(exc))
            return self.request(unregister=unregistering)
        if self.auth is not None:
            self.auth.handle_response(response, peer=self.peer)
        if status == 423 and not self._retried_423:
            try:
                minimum = int(response.get("Min-Expires") or "")
            except ValueError:
                return self._fail(f"interval too brief (423) at {self.peer} without a usable Min-Expires")
            self._retried_423 = True
            self.expires = max(self.expires, minimum)
            return self.request(unregister=unregistering)
        if not 200 <= status < 300:
            return self._fail(f"registration refused: {response.reason.lower() or 'error'} "
                              f"({status}) at {self.peer}")
        if unregistering:
            self.state, self.granted, self.refresh_at = RegState.UNREGISTERED, 0, None
            return None
        self.granted = self._granted(response)
        if self.granted <= 0:
            return self._fail(f"the registrar at {self.peer} kept no binding for our Contact")
        self.state = RegState.REGISTERED
        self.refresh_at = now + refresh_delay(self.granted)
        return None

    def timeout(self) -> None:
        self._fail(f"no answer from the registrar (408) at {self.peer}")

    def transport_failed(self, reason: str) -> None:
        """The REGISTER could not be sent (connection refused, TLS certificate refused)."""
        self._fail(reason)

    def _fail(self, reason: str) -> Request | None:
        self.state, self.reason, self.refresh_at = RegState.FAILED, reason, None
        return None

    def _granted(self, response: Response) -> int:
        ours = self.contact.uri
        try:
            for contact in response.contacts:
                uri = contact.uri
                if isinstance(uri, SipURI) and uri.host_address == ours.host_address \
                        and (uri.port or 5060) == ours.port and "expires" in contact.params:
                    return int(contact.params["expires"] or "0")
        except (SipParseError, ValueError):
            pass
        header = response.get("Expires")
        if header is not None and header.strip().isdigit():
            return int(header)
        return self.expires
