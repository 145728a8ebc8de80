"""Who may drive the phone: the token, the cookie, and the origin and host checks.

The web handset controls a telephone, so a page on any other site must not be able to
use it through the user's browser, and nobody else on the network may reach it:

- A token (32 random bytes, URL-safe base64) is required for everything but the static
  assets (plain HTML/CSS/JS, no secrets). It comes from the configuration or is generated
  at start and printed once. Comparisons are constant-time (hmac.compare_digest).
- `GET /?token=...` logs in: the answer sets an HttpOnly, SameSite=Strict cookie holding
  an HMAC of the token (so the cookie is not the token itself, and changing the token
  logs every browser out).
- WebSockets and POSTs must come from the handset's own origin (or an origin the user
  allows for embedding): a cross-site page can neither forge a command (CSRF) nor open
  the event stream (cross-site WebSocket hijacking), cookie or not.
- On a loopback listen address the Host header must name a loopback host, which defeats
  DNS rebinding (evil.example resolving to 127.0.0.1).
- A non-loopback listen address is refused unless a token was configured on purpose.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from offhook.errors import OffhookError

__all__ = [
    "COOKIE_NAME",
    "WebConfigError",
    "check_listen",
    "cookie_value",
    "host_allowed",
    "is_loopback",
    "new_token",
    "origin_allowed",
    "token_matches",
]

COOKIE_NAME = "offhook_session"
_LOOPBACK_NAMES = ("localhost", "localhost.")


class WebConfigError(OffhookError, ValueError):
    """The web handset cannot start with these settings; str() says what to change."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison (a missing or non-ASCII token never matches)."""
    if not given:
        return False
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
    except UnicodeEncodeError:
        return False


def cookie_value(token: str) -> str:
    """What the session cookie holds: an HMAC of the token, not the token."""
    return hmac.new(token.encode("ascii"), b"offhook web session v1", hashlib.sha256).hexdigest()


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, *, token_configured: bool) -> None:
    """Refuse a listen address other machines can reach unless the user set a token."""
    if is_loopback(host) or token_configured:
        return
    raise WebConfigError(
        f"refusing to listen on {host}: other machines could reach the handset and drive the phone "
        "with a token printed on this terminal; configure a token on purpose (OFFHOOK_WEB_TOKEN or "
        "--token-file FILE), and put TLS in front (a reverse proxy), or listen on 127.0.0.1")


def _split_host(text: str) -> str:
    """The host of a Host header value ("127.0.0.1:8080", "[::1]:80", "localhost")."""
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def host_allowed(host_header: str | None, listen_host: str) -> bool:
    """On a loopback listen address, only loopback Host headers (DNS rebinding)."""
    if not is_loopback(listen_host):
        return True
    return host_header is not None and is_loopback(_split_host(host_header))


def origin_allowed(origin: str | None, host_header: str | None, scheme: str,
                   allowed: frozenset[str] = frozenset()) -> bool:
    """Same-origin (scheme://Host of the request) or one of `allowed` ("https://crm.example").
    A missing Origin is refused: every browser sends one on WebSockets and POSTs, and
    non-browser clients can send it as well."""
    if not origin or origin == "null" or host_header is None:
        return False
    if origin.rstrip("/") in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    return parts.scheme == scheme and parts.netloc.lower() == host_header.lower()
