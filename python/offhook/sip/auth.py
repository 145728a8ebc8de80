"""SIP digest authentication, client and server side, sans-I/O (RFC 3261 §22, RFC 7616, RFC 8760).

Client: a `DigestClient` holds one account's `Credentials`. `authorize(request)`
adds Authorization / Proxy-Authorization for every challenge it has cached
(nc incremented per nonce, so a refresh can be authorized pre-emptively);
`handle_response(response)` digests a 401/407 and says whether to resend the
request, or raises `SipAuthError` when retrying cannot help: the same
credentials were just refused, or nothing in the challenge is usable. Choices:
- several challenges for one realm (RFC 8760 §2.4: one header per algorithm):
  the strongest supported algorithm wins (SHA-512-256 > SHA-256 > MD5, each
  with its -sess variant), the earlier header on a tie; a challenge per realm
  is answered (forking proxies aggregate them, RFC 3261 §22.3);
- qop=auth is preferred to auth-int; a challenge without qop gets the RFC 2069
  form (no cnonce/nc), except -sess algorithms, which need a cnonce: skipped;
- stale=true replaces the nonce without counting as a failure (three stale
  challenges in a row do count); a non-stale challenge after credentials were
  sent means they were refused, unless those credentials had already been
  accepted with the old nonce (then it is most likely an expired nonce from a
  server that does not set stale): one retry is allowed;
- userhash=true (RFC 7616 §3.4.4) is honoured: the username goes as H(user:realm);
- Authentication-Info nextnonce (RFC 7616 §3.5) is followed when one realm is
  cached; rspauth (mutual authentication) is not checked.

Server: `DigestServer` issues challenges with fresh random nonces (one header
per algorithm, strongest first), verifies responses in constant time, keeps a
bounded table of nonces with a 64-wide nonce-count replay window, and answers
an unknown user and a wrong password with the same verdict (a dummy hash is
computed for unknown users so timing does not tell them apart either).

Secrets: the password is held only in `Credentials`, whose repr/str hide it,
and is never put in an exception message or a log record.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from offhook.errors import SipAuthError
from offhook.sip.grammar import _QUOTED, TOKEN, quote_string, unquote_string
from offhook.sip.message import Request, Response

__all__ = [
    "ALGORITHMS",
    "AuthVerdict",
    "Challenge",
    "Credentials",
    "DigestClient",
    "DigestResponse",
    "DigestServer",
    "choose_challenges",
    "compute_response",
    "parse_challenges",
    "parse_digest_response",
]

log = logging.getLogger("offhook.sip.auth")


def _hasher(name: str) -> Callable[[bytes], str]:
    def digest(data: bytes) -> str:
        return hashlib.new(name, data).hexdigest()
    return digest


def _available(name: str) -> bool:
    try:
        hashlib.new(name, b"")
    except ValueError:  # an OpenSSL build without it
        return False
    return True


# algorithm token (canonical spelling) -> (hash name, strength rank)
_ALGORITHM_TABLE: dict[str, tuple[str, int]] = {
    "MD5": ("md5", 1), "MD5-sess": ("md5", 1),
    "SHA-256": ("sha256", 2), "SHA-256-sess": ("sha256", 2),
    "SHA-512-256": ("sha512_256", 3), "SHA-512-256-sess": ("sha512_256", 3),
}
#: The digest algorithms this build supports, strongest first.
ALGORITHMS: tuple[str, ...] = tuple(
    name for name, (h, _) in sorted(_ALGORITHM_TABLE.items(), key=lambda kv: -kv[1][1])
    if _available(h))
_CANONICAL_ALG = {name.lower(): name for name in _ALGORITHM_TABLE}
_QOPS = ("auth", "auth-int")


def _canonical_algorithm(token: str) -> str:
    return _CANONICAL_ALG.get(token.lower(), token)


def _hash_for(algorithm: str) -> Callable[[bytes], str]:
    entry = _ALGORITHM_TABLE.get(algorithm)
    if entry is None or algorithm not in ALGORITHMS:
        raise SipAuthError(f"digest algorithm {algorithm!r} is not supported "
                           f"(supported: {', '.join(ALGORITHMS)})")
    return _hasher(entry[0])


# --- credentials -----------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A username and password, optionally limited to one realm (None: any realm).

    The password never shows in repr() or str(); hand the object around, not
    the password.
    """

    username: str
    password: str = field(repr=False)
    realm: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username:
            raise SipAuthError("Credentials: username must be a non-empty string")
        if not isinstance(self.password, str):
            raise SipAuthError("Credentials: password must be a string")
        if self.realm is not None and not isinstance(self.realm, str):
            raise SipAuthError("Credentials: realm must be a string or None")

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>, realm={self.realm!r})"

    __str__ = __repr__


# --- challenge and response grammar --------------------------------------------------------

# challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]   (RFC 7235 §2.1)
# auth-param = token BWS "=" BWS ( token / quoted-string )
_WS = re.compile(r"[ \t]*")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_LIST_SEP = re.compile(r"[ \t,]*")


def _scan_params(text: str, pos: int, where: str) -> tuple[list[tuple[str, str, bool]], int]:
    """Parse #auth-param from pos; stop before a following challenge's scheme or at the end.

    Returns [(name lower-case, unquoted value, was_quoted)] and the position after them.
    """
    params: list[tuple[str, str, bool]] = []
    n = len(text)
    while True:
        start = pos
        pos = _LIST_SEP.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return params, pos
        m = TOKEN.match(text, pos)
        if m is None:
            raise SipAuthError(f"{where}: unexpected {text[pos:pos + 20]!r} where a parameter was expected")
        after = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
        if after >= n or text[after] != "=":
            return params, start  # a token not followed by '=': the next challenge's scheme
        pos = _WS.match(text, after + 1).end()  # type: ignore[union-attr]
        if pos < n and text[pos] == '"':
            q = _QUOTED.match(text, pos)
            if q is None:
                raise SipAuthError(f"{where}: unterminated quoted value for {m.group()!r}")
            params.append((m.group().lower(), unquote_string(q.group()), True))
            pos = q.end()
        else:
            v = TOKEN.match(text, pos)
            if v is None:
                raise SipAuthError(f"{where}: parameter {m.group()!r} has no valid value")
            params.append((m.group().lower(), v.group(), False))
            pos = v.end()
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos < n and text[pos] != ",":
            raise SipAuthError(f"{where}: expected ',' after parameter {m.group()!r}, "
                               f"found {text[pos:pos + 20]!r}")


def _split_challenges(text: str, where: str) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Every (scheme, params) in one header value; token68 forms (Basic...) get no params."""
    if not isinstance(text, str):
        raise SipAuthError(f"{where}: header value must be str, not {type(text).__name__}")
    out: list[tuple[str, list[tuple[str, str, bool]]]] = []
    pos, n = 0, len(text)
    while True:
        pos = _LIST_SEP.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            break
        m = TOKEN.match(text, pos)
        if m is None:
            raise SipAuthError(f"{where}: {text[pos:pos + 20]!r} is not an authentication scheme")
        scheme = m.group()
        pos = m.end()
        if pos < n and text[pos] not in " \t,":
            raise SipAuthError(f"{where}: scheme {scheme!r} must be followed by a space")
        body = _WS.match(text, pos).end()  # type: ignore[union-attr]
        t68 = None if scheme.lower() == "digest" else _TOKEN68.match(text, body)
        if t68 is not None:
            end = _WS.match(text, t68.end()).end()  # type: ignore[union-attr]
            if end >= n or text[end] == ",":
                # `Basic dXNlcjpwYXNz==`: a param would need a value after its '='
                out.append((scheme, []))
                pos = end
                continue
        params, pos = _scan_params(text, body, where)
        out.append((scheme, params))
    if not out:
        raise SipAuthError(f"{where}: empty header value")
    return out


def _token_or_quoted(value: str) -> str:
    """A parameter value written as a token when it is one (algorithm, qop), else quoted."""
    return value if TOKEN.fullmatch(value) else quote_string(value)


def _flag(value: str) -> bool:
    return value.lower() == "true"


@dataclass(frozen=True)
class Challenge:
    """One Digest challenge from WWW-Authenticate (`proxy=False`) or Proxy-Authenticate.

    `algorithm` is in canonical spelling when offhook knows it (`md5` -> `MD5`);
    `qop` lists the offered qop values (empty: the RFC 2069 form); `params`
    keeps every parameter, unquoted, by lower-case name.
    """

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False
    domain: str | None = None
    proxy: bool = False
    params: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def supported(self) -> bool:
        """True when offhook can answer it: a known algorithm, and a usable qop."""
        if self.algorithm not in ALGORITHMS:
            return False
        if self.qop:
            return any(q in _QOPS for q in self.qop)
        return not self.algorithm.endswith("-sess")

    @property
    def strength(self) -> int:
        entry = _ALGORITHM_TABLE.get(self.algorithm)
        return entry[1] if entry is not None and self.algorithm in ALGORITHMS else 0

    @property
    def header_name(self) -> str:
        return "Proxy-Authenticate" if self.proxy else "WWW-Authenticate"

    def __str__(self) -> str:
        parts = [f"realm={quote_string(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={quote_string(self.domain)}")
        parts.append(f"nonce={quote_string(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote_string(self.opaque)}")
        if self.stale:
            parts.append("stale=true")
        parts.append(f"algorithm={_token_or_quoted(self.algorithm)}")
        if self.qop:
            parts.append(f"qop={quote_string(','.join(self.qop))}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def parse_challenges(value: str, *, proxy: bool = False) -> list[Challenge]:
    """The Digest challenges in one WWW-Authenticate (or, `proxy=True`, Proxy-Authenticate)
    value. Other schemes (Basic, Bearer...) are skipped. Raises SipAuthError (a ValueError)
    when the value is malformed or a Digest challenge lacks realm or nonce."""
    where = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    out = []
    for scheme, params in _split_challenges(value, where):
        if scheme.lower() != "digest":
            continue
        values: dict[str, str] = {}
        for name, val, _ in params:
            if name in values:
                raise SipAuthError(f"{where}: parameter {name!r} appears twice")
            values[name] = val
        for required in ("realm", "nonce"):
            if required not in values:
                raise SipAuthError(f"{where}: Digest challenge has no {required}")
        qop = tuple(q.strip().lower() for q in values["qop"].split(",") if q.strip()) \
            if "qop" in values else ()
        out.append(Challenge(
            realm=values["realm"], nonce=values["nonce"],
            algorithm=_canonical_algorithm(values.get("algorithm", "MD5")),
            qop=qop, opaque=values.get("opaque"), stale=_flag(values.get("stale", "false")),
            userhash=_flag(values.get("userhash", "false")), domain=values.get("domain"),
            proxy=proxy, params=values))
    return out


@dataclass(frozen=True)
class DigestResponse:
    """The parameters of an Authorization / Proxy-Authorization Digest value.

    `nc` is the integer nonce count (None without qop). `__str__` writes the
    header value: quoted strings for username, realm, nonce, uri, response,
    cnonce, opaque; tokens for algorithm, qop, nc (RFC 7616 §3.4).
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = "MD5"
    cnonce: str | None = None
    qop: str | None = None
    nc: int | None = None
    opaque: str | None = None
    userhash: bool = False

    def __str__(self) -> str:
        parts = [f"username={quote_string(self.username)}", f"realm={quote_string(self.realm)}",
                 f"nonce={quote_string(self.nonce)}", f"uri={quote_string(self.uri)}",
                 f"response={quote_string(self.response)}"]
        if self.algorithm is not None:
            parts.append(f"algorithm={_token_or_quoted(self.algorithm)}")
        if self.cnonce is not None:
            parts.append(f"cnonce={quote_string(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={quote_string(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={_token_or_quoted(self.qop)}")
        if self.nc is not None:
            parts.append(f"nc={self.nc:08x}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


_NC = re.compile(r"[0-9A-Fa-f]{8}\Z")


def parse_digest_response(value: str, *, proxy: bool = False) -> DigestResponse:
    """Parse an Authorization (or Proxy-Authorization) Digest value; SipAuthError if malformed."""
    where = "Proxy-Authorization" if proxy else "Authorization"
    found = _split_challenges(value, where)
    if len(found) != 1 or found[0][0].lower() != "digest":
        raise SipAuthError(f"{where}: expected one Digest credentials value")
    values: dict[str, str] = {}
    for name, val, _ in found[0][1]:
        if name in values:
            raise SipAuthError(f"{where}: parameter {name!r} appears twice")
        values[name] = val
    for required in ("username", "realm", "nonce", "uri", "response"):
        if required not in values:
            raise SipAuthError(f"{where}: Digest credentials have no {required}")
    nc: int | None = None
    if "nc" in values:
        if not _NC.match(values["nc"]):
            raise SipAuthError(f"{where}: nc={values['nc']!r} is not 8 hex digits")
        nc = int(values["nc"], 16)
    qop = values.get("qop")
    if qop is not None and (nc is None or "cnonce" not in values):
        raise SipAuthError(f"{where}: qop given without nc and cnonce")
    return DigestResponse(
        username=values["username"], realm=values["realm"], nonce=values["nonce"],
        uri=values["uri"], response=values["response"].lower(),
        algorithm=_canonical_algorithm(values["algorithm"]) if "algorithm" in values else None,
        cnonce=values.get("cnonce"), qop=qop.lower() if qop is not None else None, nc=nc,
        opaque=values.get("opaque"), userhash=_flag(values.get("userhash", "false")))


# --- the computation -----------------------------------------------------------------------


def _b(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")  # what the message parser decoded
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")    # any other str a caller built


def compute_response(*, algorithm: str, username: str, realm: str, password: str, nonce: str,
                     method: str, uri: str, qop: str | None = None, nc: int | None = None,
                     cnonce: str | None = None, body: bytes = b"") -> str:
    """The `response` value (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1 without qop).

    A1 = user:realm:password (for -sess: H(that):nonce:cnonce); A2 = method:uri
    (auth-int: method:uri:H(body)); response = H(H(A1):nonce:nc:cnonce:qop:H(A2)),
    or H(H(A1):nonce:H(A2)) without qop.
    """
    h = _hash_for(algorithm)
    if qop is not None and qop not in _QOPS:
        raise SipAuthError(f"qop {qop!r} is not supported (auth, auth-int)")
    if (qop is not None or algorithm.endswith("-sess")) and cnonce is None:
        raise SipAuthError(f"a cnonce is needed for qop={qop} / algorithm={algorithm}")
    if qop is not None and nc is None:
        raise SipAuthError("a nonce count is needed with qop")
    ha1 = h(_b(f"{username}:{realm}:{password}"))
    if algorithm.endswith("-sess"):
        ha1 = h(_b(f"{ha1}:{nonce}:{cnonce}"))
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + h(body)
    ha2 = h(_b(a2))
    if qop is None:
        return h(_b(f"{ha1}:{nonce}:{ha2}"))
    return h(_b(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}"))


def _userhash(algorithm: str, username: str, realm: str) -> str:
    return _hash_for(algorithm)(_b(f"{username}:{realm}"))


# --- client ----------------------------------------------------------------------------------


@dataclass
class _RealmState:
    challenge: Challenge
    nc: int = 0
    answered: bool = False      # credentials were sent with this challenge's nonce
    accepted: bool = False      # ...and a non-401/407 final response followed
    stale_in_a_row: int = 0


_MAX_STALE = 3
_NC_MAX = 0xFFFFFFFF


def choose_challenges(challenges: Iterable[Challenge]) -> list[Challenge]:
    """Per (proxy, realm), the supported challenge with the strongest algorithm (first on a tie)."""
    best: dict[tuple[bool, str], Challenge] = {}
    for ch in challenges:
        if not ch.supported:
            continue
        key = (ch.proxy, ch.realm)
        if key not in best or ch.strength > best[key].strength:
            best[key] = ch
    return list(best.values())


class DigestClient:
    """Answers digest challenges for one account (sans-I/O, not thread-safe).

        auth = DigestClient(Credentials("alice", secret))
        auth.authorize(request)                      # no-op until challenged
        if auth.handle_response(response, peer="127.0.0.1:5070"):
            retry = ...new request, next CSeq...; auth.authorize(retry); send(retry)

    `handle_response` raises SipAuthError("authentication failed (401) at
    127.0.0.1:5070") when the server refuses the credentials again.
    `cnonce` makes client nonces (default: 128 random bits, hex).
    """

    def __init__(self, credentials: Credentials, *, cnonce: Callable[[], str] | None = None,
                 algorithms: Sequence[str] = ALGORITHMS, userhash: bool = True) -> None:
        if not isinstance(credentials, Credentials):
            raise SipAuthError(f"credentials must be Credentials, not {type(credentials).__name__}")
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown:
            raise SipAuthError(f"digest algorithms {unknown} are not supported "
                               f"(supported: {', '.join(ALGORITHMS)})")
        self.credentials = credentials
        self._cnonce = cnonce or (lambda: secrets.token_hex(16))
        self._algorithms = frozenset(algorithms)
        self._userhash = userhash
        self._realms: dict[tuple[bool, str], _RealmState] = {}

    def __repr__(self) -> str:
        return f"DigestClient({self.credentials!r}, realms={sorted(r for _, r in self._realms)})"

    @property
    def challenges(self) -> list[Challenge]:
        """The challenges currently answered by authorize()."""
        return [s.challenge for s in self._realms.values()]

    def reset(self) -> None:
        """Forget every cached challenge (e.g. after changing server)."""
        self._realms.clear()

    def handle_response(self, response: Response, *, peer: str | None = None) -> bool:
        """Feed a final response to a request this client authorized (or sent unauthorized).

        401/407: returns True when the request should be resent through authorize();
        raises SipAuthError (with `.status`) when retrying cannot succeed. Any other
        final response marks the credentials sent as accepted and returns False.
        """
        if response.status not in (401, 407):
            if response.status >= 200:
                for sent in self._realms.values():
                    if sent.answered:
                        sent.accepted = True
                        sent.stale_in_a_row = 0
                self._next_nonce(response, "Authentication-Info", proxy=False)
                self._next_nonce(response, "Proxy-Authentication-Info", proxy=True)
            return False
        where = f" at {peer}" if peer else ""
        failed = f"authentication failed ({response.status}){where}"
        offered: list[Challenge] = []
        for name, proxy in (("WWW-Authenticate", False), ("Proxy-Authenticate", True)):
            for value in response.get_lines(name):
                try:
                    offered.extend(parse_challenges(value, proxy=proxy))
                except SipAuthError as exc:
                    log.debug("ignoring a malformed %s: %s", name, exc)
        usable = [c for c in offered if c.algorithm in self._algorithms
                  and (self.credentials.realm is None or c.realm == self.credentials.realm)]
        chosen = choose_challenges(usable)
        if not chosen:
            if not offered:
                detail = "no Digest challenge in the response"
            elif self.credentials.realm is not None and not any(
                    c.realm == self.credentials.realm for c in offered):
                detail = (f"no credentials for realm(s) {sorted({c.realm for c in offered})} "
                          f"(account realm {self.credentials.realm!r})")
            else:
                detail = ("no supported digest algorithm/qop offered ("
                          + ", ".join(sorted({c.algorithm for c in offered})) + ")")
            raise SipAuthError(f"{failed}: {detail}", status=response.status)
        for ch in chosen:
            key = (ch.proxy, ch.realm)
            state = self._realms.get(key)
            if state is None or not state.answered:
                self._realms[key] = _RealmState(ch)
            elif ch.stale:
                state.stale_in_a_row += 1
                if state.stale_in_a_row >= _MAX_STALE:
                    raise SipAuthError(f"{failed}: {_MAX_STALE} stale nonces in a row",
                                       status=response.status)
                self._realms[key] = _RealmState(ch, stale_in_a_row=state.stale_in_a_row)
            elif state.accepted:
                # accepted before: most likely an expired nonce from a server not setting stale
                self._realms[key] = _RealmState(ch)
            else:
                log.info("%s: credentials for realm %r refused", failed, ch.realm)
                raise SipAuthError(failed, status=response.status)
        return True

    def _next_nonce(self, response: Response, header: str, *, proxy: bool) -> None:
        """Authentication-Info: nextnonce="..." (RFC 7616 §3.5): use it from the next request
        on. The header names no realm, so it applies only when one realm is cached."""
        value = response.get(header)
        states = [k for k in self._realms if k[0] == proxy]
        if value is None or len(states) != 1:
            return
        try:
            [(_, params)] = _split_challenges("Info " + value, header)
        except (SipAuthError, ValueError):
            log.debug("ignoring a malformed %s", header)
            return
        nextnonce = next((v for n, v, _ in params if n == "nextnonce"), None)
        state = self._realms[states[0]]
        if nextnonce and nextnonce != state.challenge.nonce:
            self._realms[states[0]] = _RealmState(
                replace(state.challenge, nonce=nextnonce, stale=False), answered=state.answered,
                accepted=state.accepted)

    def authorize(self, request: Request) -> None:
        """Set Authorization / Proxy-Authorization on request for every cached challenge
        (replacing any already there); the nonce count of each goes up by one."""
        if not self._realms:
            return
        request.remove_header("Authorization")
        request.remove_header("Proxy-Authorization")
        for key, state in list(self._realms.items()):
            if state.nc >= _NC_MAX:   # nonce count exhausted: go without, get a fresh nonce
                del self._realms[key]
                continue
            value = self._answer(state, request)
            request.add_header("Proxy-Authorization" if state.challenge.proxy else "Authorization",
                               str(value))

    def _answer(self, state: _RealmState, request: Request) -> DigestResponse:
        ch = state.challenge
        qop: str | None = None
        if ch.qop:
            qop = "auth" if "auth" in ch.qop else "auth-int"
        cnonce = self._cnonce() if qop is not None or ch.algorithm.endswith("-sess") else None
        nc: int | None = None
        if qop is not None:
            state.nc += 1
            nc = state.nc
        uri = str(request.uri)
        creds = self.credentials
        response = compute_response(
            algorithm=ch.algorithm, username=creds.username, realm=ch.realm,
            password=creds.password, nonce=ch.nonce, method=request.method, uri=uri,
            qop=qop, nc=nc, cnonce=cnonce, body=request.body)
        hashed = ch.userhash and self._userhash
        state.answered = True
        return DigestResponse(
            username=_userhash(ch.algorithm, creds.username, ch.realm) if hashed else creds.username,
            realm=ch.realm, nonce=ch.nonce, uri=uri, response=response, algorithm=ch.algorithm,
            cnonce=cnonce, qop=qop, nc=nc, opaque=ch.opaque, userhash=hashed)


# --- server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthVerdict:
    """The outcome of DigestServer.verify.

    ok: the request is authenticated as `username`. Otherwise answer 401/407
    with `server.challenge(stale=verdict.stale)`; `reason` is for logs only
    (identical for an unknown user and a wrong password).
    """

    ok: bool
    username: str | None = None
    stale: bool = False
    reason: str = ""


_REFUSED = "wrong username or password"
_WINDOW = 64


@dataclass
class _NonceState:
    issued: float
    max_nc: int = 0
    seen: int = 0   # bit i: nc == max_nc - i was used


class DigestServer:
    """Issues digest challenges and checks responses (UAS / registrar / test peer role).

    `lookup(username)` returns the password or None; a Mapping works too (and
    then userhash=true is offered, since usernames can be enumerated).
    `clock` is seconds, monotonic (injected for tests). Not thread-safe.
    """

    def __init__(self, realm: str, lookup: Callable[[str], str | None] | Mapping[str, str], *,
                 algorithms: Sequence[str] = ("SHA-256", "MD5"), qop: Sequence[str] = ("auth",),
                 proxy: bool = False, nonce_lifetime: float = 300.0, max_nonces: int = 4096,
                 clock: Callable[[], float] = time.monotonic, check_uri: bool = True) -> None:
        if not realm or not isinstance(realm, str):
            raise SipAuthError("DigestServer: realm must be a non-empty string")
        bad = [a for a in algorithms if a not in ALGORITHMS]
        if bad or not algorithms:
            raise SipAuthError(f"DigestServer: algorithms {list(algorithms)} must be a non-empty "
                               f"selection of {', '.join(ALGORITHMS)}")
        if not qop or any(q not in _QOPS for q in qop):
            raise SipAuthError(f"DigestServer: qop {list(qop)} must be a non-empty selection "
                               "of auth, auth-int")
        if nonce_lifetime <= 0 or max_nonces < 1:
            raise SipAuthError("DigestServer: nonce_lifetime and max_nonces must be positive")
        self.realm = realm
        self._users: Mapping[str, str] | None = lookup if isinstance(lookup, Mapping) else None
        self._lookup: Callable[[str], str | None] = (
            lookup.get if isinstance(lookup, Mapping) else lookup)
        self.algorithms = tuple(sorted(algorithms, key=lambda a: -_ALGORITHM_TABLE[a][1]))
        self.qop = tuple(qop)
        self.proxy = proxy
        self.nonce_lifetime = nonce_lifetime
        self.max_nonces = max_nonces
        self.check_uri = check_uri
        self._clock = clock
        self._nonces: OrderedDict[str, _NonceState] = OrderedDict()
        self._opaque = secrets.token_urlsafe(12)
        self._dummy_password = secrets.token_urlsafe(16)

    @property
    def challenge_header(self) -> str:
        return "Proxy-Authenticate" if self.proxy else "WWW-Authenticate"

    @property
    def credentials_header(self) -> str:
        return "Proxy-Authorization" if self.proxy else "Authorization"

    def challenge(self, *, stale: bool = False) -> list[Challenge]:
        """Fresh challenges sharing one new nonce, one per algorithm, strongest first."""
        nonce = secrets.token_urlsafe(24)
        self._nonces[nonce] = _NonceState(self._clock())
        while len(self._nonces) > self.max_nonces:
            self._nonces.popitem(last=False)
        return [Challenge(realm=self.realm, nonce=nonce, algorithm=alg, qop=self.qop,
                          opaque=self._opaque, stale=stale, userhash=self._users is not None,
                          proxy=self.proxy) for alg in self.algorithms]

    def add_challenge(self, response: Response, *, stale: bool = False) -> None:
        """Add the challenge headers to a 401 (or, proxy=True, 407) response."""
        for ch in self.challenge(stale=stale):
            response.add_header(self.challenge_header, str(ch))

    def verify(self, request: Request) -> AuthVerdict:
        """Check the request's credentials for this realm (see AuthVerdict)."""
        mine: list[DigestResponse] = []
        for value in request.get_lines(self.credentials_header):
            try:
                parsed = parse_digest_response(value, proxy=self.proxy)
            except SipAuthError as exc:
                return AuthVerdict(False, reason=f"malformed credentials: {exc}")
            if parsed.realm == self.realm:
                mine.append(parsed)
        if not mine:
            return AuthVerdict(False, reason=f"no credentials for realm {self.realm!r}")
        return self._check(mine[0], request)

    def _check(self, cred: DigestResponse, request: Request) -> AuthVerdict:
        algorithm = cred.algorithm or "MD5"
        if algorithm not in self.algorithms:
            return AuthVerdict(False, reason=f"algorithm {algorithm} was not offered")
        if cred.qop not in self.qop:
            return AuthVerdict(False, reason=f"qop {cred.qop} was not offered")
        if cred.opaque != self._opaque:
            return AuthVerdict(False, reason="opaque does not match")
        if self.check_uri and cred.uri != str(request.uri):
            return AuthVerdict(False, reason="digest uri does not match the Request-URI")
        if len(cred.response) != len(_hash_for(algorithm)(b"")):
            return AuthVerdict(False, reason="response has the wrong length")
        username, password = self._find_user(cred, algorithm)
        expected = compute_response(
            algorithm=algorithm, username=username, realm=self.realm, password=password,
            nonce=cred.nonce, method=request.method, uri=cred.uri, qop=cred.qop, nc=cred.nc,
            cnonce=cred.cnonce, body=request.body)
        good = hmac.compare_digest(expected, cred.response)
        if not good or password is self._dummy_password:
            return AuthVerdict(False, reason=_REFUSED)
        state = self._nonces.get(cred.nonce)
        if state is None or self._clock() - state.issued > self.nonce_lifetime:
            self._nonces.pop(cred.nonce, None)
            return AuthVerdict(False, stale=True, reason="nonce unknown or expired")
        if cred.nc is None or not self._count(state, cred.nc):
            return AuthVerdict(False, reason="replayed nonce count")
        self._nonces.move_to_end(cred.nonce)   # in use: evict idle nonces first
        return AuthVerdict(True, username=username)

    def _find_user(self, cred: DigestResponse, algorithm: str) -> tuple[str, str]:
        if cred.userhash:
            if self._users is not None:
                for name, password in self._users.items():
                    if hmac.compare_digest(_userhash(algorithm, name, self.realm), cred.username):
                        return name, password
            return cred.username, self._dummy_password
        found = self._lookup(cred.username)
        return cred.username, self._dummy_password if found is None else found

    @staticmethod
    def _count(state: _NonceState, nc: int) -> bool:
        """Accept each nc once, within a window below the highest seen (reordering tolerated)."""
        if nc <= 0:
            return False
        if nc > state.max_nc:
            shift = nc - state.max_nc
            state.seen = ((state.seen << shift) | 1) & ((1 << _WINDOW) - 1)
            state.max_nc = nc
            return True
        offset = state.max_nc - nc
        if offset >= _WINDOW or state.seen >> offset & 1:
            return False
        state.seen |= 1 << offset
        return True
