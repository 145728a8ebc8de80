"""offhook.sip.auth: digest vectors from the RFCs, client retry rules, server verifier, fuzzing."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import offhook.sip
from offhook.errors import OffhookError
from offhook.sip import (
    Challenge,
    Credentials,
    DigestClient,
    DigestServer,
    Request,
    Response,
    SipAuthError,
    parse_challenges,
    parse_digest_response,
    parse_message,
)
from offhook.sip.auth import ALGORITHMS, choose_challenges, compute_response
from offhook.sip.grammar import unquote_string

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PEER = "127.0.0.1:5070"
SECRET = "s3cret-Pa55word"

# --- RFC test vectors ---------------------------------------------------------------------

# RFC 2617 §3.5: the challenge, and the response for GET /dir/index.html with
# nc=00000001, cnonce="0a4f113b", user "Mufasa", password "Circle Of Life" (capital O).
RFC2617_CHALLENGE = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                     'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
                     'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
RFC2617_AUTHORIZATION = ('Digest username="Mufasa", realm="testrealm@host.com", '
                         'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
                         'qop=auth, nc=00000001, cnonce="0a4f113b", '
                         'response="6629fae49393a05397450978507c4ef1", '
                         'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
RFC2617_RESPONSE = "6629fae49393a05397450978507c4ef1"

# RFC 7616 §3.9.1: the 401 carries a SHA-256 and an MD5 challenge (in that order);
# password "Circle of Life" (lower-case o, erratum 4495), GET /dir/index.html, nc=00000001.
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_CHALLENGES = [
    f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"',
    f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"',
]
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def test_rfc2617_section_3_5_example() -> None:
    [ch] = parse_challenges(RFC2617_CHALLENGE)
    assert (ch.realm, ch.nonce, ch.algorithm, ch.qop, ch.opaque) == (
        "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "MD5", ("auth", "auth-int"),
        "5ccc069c403ebaf9f0171e9517f40e41")
    got = compute_response(algorithm="MD5", username="Mufasa", realm=ch.realm,
                           password="Circle Of Life", nonce=ch.nonce, method="GET",
                           uri="/dir/index.html", qop="auth", nc=1, cnonce="0a4f113b")
    assert got == RFC2617_RESPONSE
    cred = parse_digest_response(RFC2617_AUTHORIZATION)
    assert (cred.username, cred.nc, cred.qop, cred.cnonce, cred.response, cred.algorithm) == (
        "Mufasa", 1, "auth", "0a4f113b", RFC2617_RESPONSE, None)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_section_3_9_1_examples(algorithm: str) -> None:
    challenges = [c for v in RFC7616_CHALLENGES for c in parse_challenges(v)]
    [ch] = [c for c in challenges if c.algorithm == algorithm]
    got = compute_response(algorithm=algorithm, username="Mufasa", realm=ch.realm,
                           password="Circle of Life", nonce=ch.nonce, method="GET",
                           uri="/dir/index.html", qop="auth", nc=1, cnonce=RFC7616_CNONCE)
    assert got == RFC7616_RESPONSES[algorithm]


def test_rfc7616_401_prefers_sha256_and_formats_like_the_rfc() -> None:
    resp = _response(401, [("WWW-Authenticate", v) for v in reversed(RFC7616_CHALLENGES)])
    client = DigestClient(Credentials("Mufasa", "Circle of Life"), cnonce=lambda: RFC7616_CNONCE)
    assert client.handle_response(resp, peer=PEER) is True
    assert [c.algorithm for c in client.challenges] == ["SHA-256"]
    req = _request("sip:http-auth@example.org")
    client.authorize(req)
    value = req.get("Authorization")
    assert value is not None
    assert value.startswith('Digest username="Mufasa", realm="http-auth@example.org", ')
    for part in (f'nonce="{RFC7616_NONCE}"', 'uri="sip:http-auth@example.org"', "algorithm=SHA-256",
                 f'cnonce="{RFC7616_CNONCE}"', f'opaque="{RFC7616_OPAQUE}"', "qop=auth",
                 "nc=00000001"):
        assert part in value


# RFC 7616 §3.9.2 (SHA-512-256, charset, userhash). The RFC prints values that do not
# follow from its inputs; erratum 4897 gives the corrected username hash and response.
RFC7616_SHA512_CHALLENGE = ('Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
                            'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
                            'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", '
                            'charset=UTF-8, userhash=true')
RFC7616_SHA512_USERHASH = "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
RFC7616_SHA512_RESPONSE = "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"


def test_rfc7616_section_3_9_2_sha512_256_userhash_with_erratum_4897() -> None:
    if "SHA-512-256" not in ALGORITHMS:
        pytest.skip("this OpenSSL has no SHA-512/256")
    [ch] = parse_challenges(RFC7616_SHA512_CHALLENGE)
    assert ch.userhash and ch.params["charset"] == "UTF-8"
    got = compute_response(algorithm=ch.algorithm, username="J\u00e4s\u00f8n Doe", realm=ch.realm,
                           password="Secret, or not?", nonce=ch.nonce, method="GET", uri="/doe.json",
                           qop="auth", nc=1, cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
    assert got == RFC7616_SHA512_RESPONSE
    client = DigestClient(Credentials("J\u00e4s\u00f8n Doe", "Secret, or not?"))
    client.handle_response(_response(401, [("WWW-Authenticate", RFC7616_SHA512_CHALLENGE)]))
    req = _request()
    client.authorize(req)
    cred = parse_digest_response(req.get("Authorization") or "")
    assert (cred.username, cred.userhash, cred.algorithm) == (RFC7616_SHA512_USERHASH, True, "SHA-512-256")


def test_sha512_256_matches_a_manual_computation() -> None:
    if "SHA-512-256" not in ALGORITHMS:
        pytest.skip("this OpenSSL has no SHA-512/256")

    def h(s: str) -> str:
        return hashlib.new("sha512_256", s.encode()).hexdigest()

    ha1, ha2 = h("u:r:p"), h("REGISTER:sip:r")
    want = h(f"{ha1}:n:0000000a:c:auth:{ha2}")
    assert compute_response(algorithm="SHA-512-256", username="u", realm="r", password="p",
                            nonce="n", method="REGISTER", uri="sip:r", qop="auth", nc=10,
                            cnonce="c") == want


def test_rfc2069_form_without_qop() -> None:
    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    resp = _response(401, [("WWW-Authenticate", 'Digest realm="r", nonce="n"')])
    client = DigestClient(Credentials("u", "p"))
    assert client.handle_response(resp)
    req = _request("sip:r")
    client.authorize(req)
    cred = parse_digest_response(req.get("Authorization") or "")
    assert (cred.qop, cred.nc, cred.cnonce) == (None, None, None)
    assert cred.response == md5(f"{md5('u:r:p')}:n:{md5('REGISTER:sip:r')}")


# --- helpers ------------------------------------------------------------------------------


def _request(uri: str = "sip:example.com", method: str = "REGISTER", body: bytes = b"",
             cseq: int = 1) -> Request:
    data = (f"{method} {uri} SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\n"
            "To: <sip:alice@example.com>\r\nCall-ID: c1@127.0.0.1\r\n"
            f"CSeq: {cseq} {method}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    msg = parse_message(data)
    assert isinstance(msg, Request)
    return msg


def _response(status: int, headers: list[tuple[str, str]]) -> Response:
    return Response(status=status, reason="Unauthorized", headers=list(headers))


def _challenge_from(server: DigestServer, *, stale: bool = False) -> Response:
    resp = _response(407 if server.proxy else 401, [])
    server.add_challenge(resp, stale=stale)
    return resp


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _counter() -> Callable[[], str]:
    n = iter(range(1, 10**6))
    return lambda: f"cn{next(n)}"


# --- client ↔ server -----------------------------------------------------------------------


def test_register_flow_and_nc_increments_per_nonce() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", SECRET), cnonce=_counter(), userhash=False)
    first = _request()
    client.authorize(first)
    assert "Authorization" not in first           # nothing cached yet
    assert not server.verify(first).ok
    assert client.handle_response(_challenge_from(server), peer=PEER)
    ncs = []
    for cseq in (2, 3, 4):
        req = _request(cseq=cseq)
        client.authorize(req)
        value = req.get("Authorization") or ""
        ncs.append(parse_digest_response(value).nc)
        assert value.count("nc=") == 1
        verdict = server.verify(req)
        assert verdict.ok and verdict.username == "alice", verdict
        assert client.handle_response(_response(200, [])) is False
    assert ncs == [1, 2, 3]
    assert "nc=00000003" in (req.get("Authorization") or "")
    # a new nonce restarts the count
    assert client.handle_response(_challenge_from(server, stale=True))
    req = _request(cseq=5)
    client.authorize(req)
    assert parse_digest_response(req.get("Authorization") or "").nc == 1
    assert server.verify(req).ok


def test_nc_is_eight_hex_digits() -> None:
    client = DigestClient(Credentials("u", "p"))
    client.handle_response(_response(401, [("WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth"')]))
    for _ in range(26):
        req = _request()
        client.authorize(req)
    assert "nc=0000001a," in (req.get("Authorization") or "") + ","


def test_stale_nonce_retries_without_failing() -> None:
    clock = Clock()
    server = DigestServer("example.com", {"alice": SECRET}, nonce_lifetime=60, clock=clock)
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    req = _request()
    client.authorize(req)
    # the nonce expires before the server sees the request: valid digest, stale nonce
    clock.now += 61
    verdict = server.verify(req)
    assert not verdict.ok and verdict.stale, verdict
    assert client.handle_response(_challenge_from(server, stale=True), peer=PEER) is True
    retry = _request(cseq=2)
    client.authorize(retry)
    assert server.verify(retry).ok


def test_three_stale_challenges_in_a_row_give_up() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    for i in range(2):
        client.authorize(_request(cseq=i + 2))
        assert client.handle_response(_challenge_from(server, stale=True))
    client.authorize(_request(cseq=9))
    with pytest.raises(SipAuthError, match=r"^authentication failed \(401\) at 127\.0\.0\.1:5070: "
                                           r"3 stale nonces in a row$"):
        client.handle_response(_challenge_from(server, stale=True), peer=PEER)


def test_wrong_password_gives_up_after_one_retry_with_a_clear_message(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", "not-the-password"))
    assert client.handle_response(_challenge_from(server), peer=PEER)
    req = _request(cseq=2)
    client.authorize(req)
    verdict = server.verify(req)
    assert not verdict.ok and not verdict.stale
    with pytest.raises(SipAuthError) as info:
        client.handle_response(_challenge_from(server), peer=PEER)
    assert str(info.value) == "authentication failed (401) at 127.0.0.1:5070"
    assert info.value.status == 401
    assert isinstance(info.value, OffhookError) and isinstance(info.value, ValueError)
    assert "not-the-password" not in caplog.text


def test_proxy_challenge_407_gives_proxy_authorization() -> None:
    proxy = DigestServer("proxy.example.com", {"alice": SECRET}, proxy=True)
    client = DigestClient(Credentials("alice", SECRET))
    resp = _challenge_from(proxy)
    assert resp.status == 407 and "Proxy-Authenticate" in resp
    assert client.handle_response(resp)
    req = _request("sip:bob@example.com", method="INVITE")
    client.authorize(req)
    assert "Authorization" not in req and "Proxy-Authorization" in req
    assert proxy.verify(req).ok
    with pytest.raises(SipAuthError, match=r"^authentication failed \(407\) at 127\.0\.0\.1:5070$"):
        client.handle_response(_challenge_from(proxy), peer=PEER)


def test_two_realms_are_both_answered() -> None:
    a = DigestServer("a.example.com", {"alice": SECRET})
    b = DigestServer("b.example.com", {"alice": SECRET}, proxy=True)
    resp = _challenge_from(a)
    for ch in b.challenge():
        resp.add_header("Proxy-Authenticate", str(ch))
    client = DigestClient(Credentials("alice", SECRET))
    assert client.handle_response(resp)
    req = _request()
    client.authorize(req)
    assert len(req.get_lines("Authorization")) == 1 and len(req.get_lines("Proxy-Authorization")) == 1
    assert a.verify(req).ok and b.verify(req).ok


def test_realm_bound_credentials_refuse_other_realms() -> None:
    client = DigestClient(Credentials("alice", SECRET, realm="home.example"))
    resp = _response(401, [("WWW-Authenticate", 'Digest realm="evil.example", nonce="n", qop="auth"')])
    with pytest.raises(SipAuthError, match=r"no credentials for realm\(s\) \['evil.example'\]"):
        client.handle_response(resp, peer=PEER)


def test_accepted_credentials_get_one_retry_after_a_non_stale_challenge() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    req = _request(cseq=2)
    client.authorize(req)
    assert server.verify(req).ok
    client.handle_response(_response(200, []))
    # an hour later the refresh meets a server that forgot the nonce and does not set stale
    client.authorize(_request(cseq=3))
    assert client.handle_response(_challenge_from(server), peer=PEER) is True
    client.authorize(_request(cseq=4))
    with pytest.raises(SipAuthError, match="authentication failed"):
        client.handle_response(_challenge_from(server), peer=PEER)


def test_authentication_info_nextnonce_is_used_from_the_next_request() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    req = _request()
    client.authorize(req)
    client.authorize(req)
    assert parse_digest_response(req.get("Authorization") or "").nc == 2
    [fresh] = {c.nonce for c in server.challenge()}
    ok = _response(200, [("Authentication-Info", f'nextnonce="{fresh}", qop=auth, rspauth="00"')])
    assert client.handle_response(ok) is False
    nxt = _request(cseq=2)
    client.authorize(nxt)
    cred = parse_digest_response(nxt.get("Authorization") or "")
    assert (cred.nonce, cred.nc) == (fresh, 1)
    assert server.verify(nxt).ok
    # garbage in Authentication-Info is ignored, the nonce stays
    client.handle_response(_response(200, [("Authentication-Info", 'nextnonce="unterminated')]))
    client.authorize(nxt)
    assert parse_digest_response(nxt.get("Authorization") or "").nonce == fresh


def test_exhausted_nonce_count_drops_the_cached_challenge() -> None:
    client = DigestClient(Credentials("u", "p"))
    client.handle_response(_response(401, [("WWW-Authenticate", 'Digest realm="r", nonce="n", qop="auth"')]))
    [state] = client._realms.values()    # white-box: 2**32 - 1 requests would take too long
    state.nc = 0xFFFFFFFE
    req = _request()
    client.authorize(req)
    assert "nc=ffffffff" in (req.get("Authorization") or "")
    client.authorize(req)
    assert "Authorization" not in req and client.challenges == []


# --- algorithm choice -------------------------------------------------------------------------


def _alg_challenges(*algorithms: str, realm: str = "r") -> Response:
    return _response(401, [("WWW-Authenticate",
                            f'Digest realm="{realm}", nonce="n{i}", qop="auth", algorithm={alg}')
                           for i, alg in enumerate(algorithms)])


def test_strongest_algorithm_is_chosen_whatever_the_order() -> None:
    best = ALGORITHMS[0]
    for order in (("MD5", "SHA-256", best), (best, "MD5", "SHA-256"), ("SHA-256", "MD5")):
        client = DigestClient(Credentials("u", "p"))
        client.handle_response(_alg_challenges(*order))
        want = best if best in order else "SHA-256"
        assert [c.algorithm for c in client.challenges] == [want], order


def test_algorithm_choice_respects_the_client_list_and_skips_unknown() -> None:
    client = DigestClient(Credentials("u", "p"), algorithms=("MD5", "SHA-256"))
    client.handle_response(_alg_challenges("SHA-1", "SHA-512-256", "MD5", "SHA-256"))
    assert [c.algorithm for c in client.challenges] == ["SHA-256"]
    # equal strength: the first one (the server's preference) wins
    chosen = choose_challenges(parse_challenges(
        'Digest realm="r", nonce="1", qop="auth", algorithm=MD5-sess, '
        'Digest realm="r", nonce="2", qop="auth", algorithm=MD5'))
    assert [c.nonce for c in chosen] == ["1"]


def test_no_supported_algorithm_is_a_clear_error() -> None:
    client = DigestClient(Credentials("u", "p"))
    with pytest.raises(SipAuthError) as info:
        client.handle_response(_alg_challenges("SHA-1", "AKAv1-MD5"), peer=PEER)
    assert str(info.value) == ("authentication failed (401) at 127.0.0.1:5070: "
                               "no supported digest algorithm/qop offered (AKAv1-MD5, SHA-1)")
    with pytest.raises(SipAuthError, match="no Digest challenge in the response"):
        client.handle_response(_response(401, [("WWW-Authenticate", 'Basic realm="x"')]))
    with pytest.raises(SipAuthError, match="not supported"):
        DigestClient(Credentials("u", "p"), algorithms=("SHA-1",))


@pytest.mark.parametrize("algorithm", [a for a in ALGORITHMS if a.endswith("-sess")])
def test_sess_algorithms_round_trip(algorithm: str) -> None:
    server = DigestServer("example.com", {"alice": SECRET}, algorithms=(algorithm,))
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    req = _request()
    client.authorize(req)
    assert f"algorithm={algorithm}," in (req.get("Authorization") or "")
    assert server.verify(req).ok


def test_auth_int_covers_the_body() -> None:
    server = DigestServer("example.com", {"alice": SECRET}, qop=("auth-int",))
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    req = _request("sip:bob@example.com", "MESSAGE", body=b"hello")
    client.authorize(req)
    assert "qop=auth-int" in (req.get("Authorization") or "")
    assert server.verify(req).ok
    tampered = _request("sip:bob@example.com", "MESSAGE", body=b"hellO")
    tampered.set_header("Authorization", req.get("Authorization") or "")
    assert not server.verify(tampered).ok


def test_userhash_hides_the_username() -> None:
    server = DigestServer("example.com", {"alice": SECRET, "bob": "x"})
    resp = _challenge_from(server)
    assert all("userhash=true" in v for v in resp.get_lines("WWW-Authenticate"))
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(resp)
    req = _request("sip:example.com")
    client.authorize(req)
    value = req.get("Authorization") or ""
    assert "alice" not in value and "userhash=true" in value
    verdict = server.verify(req)
    assert verdict.ok and verdict.username == "alice"


# --- server verifier ---------------------------------------------------------------------------


def _authorized(server: DigestServer, creds: Credentials, *, method: str = "REGISTER",
                uri: str = "sip:example.com") -> Request:
    client = DigestClient(creds, userhash=False)
    client.handle_response(_challenge_from(server))
    req = _request(uri, method)
    client.authorize(req)
    return req


def test_server_accepts_correct_and_rejects_wrong_password_and_unknown_user_alike() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    assert server.verify(_authorized(server, Credentials("alice", SECRET))).ok
    wrong = server.verify(_authorized(server, Credentials("alice", "guess")))
    unknown = server.verify(_authorized(server, Credentials("mallory", SECRET)))
    assert not wrong.ok and not unknown.ok
    assert wrong == unknown                                     # same verdict, same reason
    assert wrong.reason == "wrong username or password" and not wrong.stale


def test_server_rejects_wrong_realm() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    other = DigestServer("other.example.com", {"alice": SECRET})
    req = _authorized(other, Credentials("alice", SECRET))
    verdict = server.verify(req)
    assert not verdict.ok and verdict.reason == "no credentials for realm 'example.com'"
    # the realm rewritten in the header: the digest no longer matches
    forged = _request()
    forged.set_header("Authorization", (req.get("Authorization") or "").replace(
        'realm="other.example.com"', 'realm="example.com"'))
    assert not server.verify(forged).ok


def test_server_rejects_a_replayed_nonce_count_but_tolerates_reordering() -> None:
    server = DigestServer("example.com", {"alice": SECRET})
    client = DigestClient(Credentials("alice", SECRET))
    client.handle_response(_challenge_from(server))
    reqs = []
    for cseq in range(1, 4):
        req = _request(cseq=cseq)
        client.authorize(req)
        reqs.append(req)
    assert server.verify(reqs[0]).ok
    assert server.verify(reqs[2]).ok     # nc 3 before nc 2: reordered on the way
    assert server.verify(reqs[1]).ok
    replay = server.verify(reqs[1])
    assert not replay.ok and not replay.stale and replay.reason == "replayed nonce count"


def test_server_rejects_other_tampering() -> None:
    server = DigestServer("example.com", {"alice": SECRET}, algorithms=("SHA-256",))
    req = _authorized(server, Credentials("alice", SECRET), uri="sip:example.com")
    moved = _request("sip:elsewhere.example.com")
    moved.set_header("Authorization", req.get("Authorization") or "")
    assert server.verify(moved).reason == "digest uri does not match the Request-URI"
    md5 = _request()
    md5.set_header("Authorization", (req.get("Authorization") or "").replace(
        "algorithm=SHA-256", "algorithm=MD5"))
    assert server.verify(md5).reason == "algorithm MD5 was not offered"
    garbage = _request()
    garbage.set_header("Authorization", "Digest username=")
    assert server.verify(garbage).reason.startswith("malformed credentials: ")
    assert server.verify(req).ok


def test_server_challenges_use_fresh_nonces_strongest_first() -> None:
    server = DigestServer("example.com", {"alice": SECRET}, algorithms=("MD5", "SHA-256"))
    first, second = server.challenge(), server.challenge()
    assert [c.algorithm for c in first] == ["SHA-256", "MD5"]
    assert first[0].nonce == first[1].nonce != second[0].nonce
    assert first[0].qop == ("auth",) and first[0].opaque is not None
    with pytest.raises(SipAuthError, match="must be a non-empty selection"):
        DigestServer("r", {}, algorithms=("SHA-1",))


def test_server_bounds_its_nonce_table() -> None:
    server = DigestServer("example.com", {"alice": SECRET}, max_nonces=2)
    req = _authorized(server, Credentials("alice", SECRET))
    server.challenge()
    server.challenge()                   # evicts the nonce req was answered with
    verdict = server.verify(req)
    assert not verdict.ok and verdict.stale


# --- credentials never shown ------------------------------------------------------------------


def test_credentials_hide_the_password(caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials("alice", SECRET, realm="example.com")
    client = DigestClient(creds)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr(client), str(client),
                 repr([creds]), repr({"c": creds})):
        assert SECRET not in text
        assert "alice" in text or "DigestClient" in text
    assert "password=<hidden>" in repr(creds)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("offhook.test").info("using %s / %r", creds, creds)
    server = DigestServer("example.com", {"alice": "other"})
    client.handle_response(_challenge_from(server))
    req = _request()
    client.authorize(req)
    with pytest.raises(SipAuthError) as info:
        client.handle_response(_challenge_from(server), peer=PEER)
    assert SECRET not in caplog.text and SECRET not in str(info.value)
    assert SECRET not in bytes(req).decode()


def test_credentials_reject_bad_input() -> None:
    with pytest.raises(SipAuthError, match="username must be a non-empty string"):
        Credentials("", "x")
    with pytest.raises(SipAuthError, match="password must be a string"):
        Credentials("u", None)  # type: ignore[arg-type]
    with pytest.raises(SipAuthError, match="credentials must be Credentials"):
        DigestClient(("u", "p"))  # type: ignore[arg-type]


# --- header grammar ----------------------------------------------------------------------------


def test_quoted_escapes_and_token_forms() -> None:
    value = (r'Digest realm="a \"quoted\" realm\\x", nonce=abc123, qop=auth, '
             r'algorithm="sha-256", stale=TRUE, opaque="", domain="sip:a sip:b"')
    [ch] = parse_challenges(value)
    assert ch.realm == 'a "quoted" realm\\x'
    assert (ch.nonce, ch.qop, ch.algorithm, ch.stale, ch.opaque, ch.domain) == (
        "abc123", ("auth",), "SHA-256", True, "", "sip:a sip:b")
    assert parse_challenges(str(ch)) == [ch]                 # round trip through __str__
    assert r'realm="a \"quoted\" realm\\x"' in str(ch)


def test_several_challenges_in_one_value_and_other_schemes() -> None:
    value = ('Basic realm="x", Digest realm="r", nonce="1", algorithm=MD5, '
             'Bearer abc.def/ghi==, Digest realm="r",nonce="2",algorithm=SHA-256,qop="auth"')
    got = parse_challenges(value, proxy=True)
    assert [(c.nonce, c.algorithm, c.proxy) for c in got] == [("1", "MD5", True), ("2", "SHA-256", True)]
    assert got[0].header_name == "Proxy-Authenticate"


@pytest.mark.parametrize(("value", "message"), [
    ('Digest realm="r"', "Digest challenge has no nonce"),
    ('Digest nonce="n"', "Digest challenge has no realm"),
    ('Digest realm="r, nonce="n"', "expected ',' after parameter 'realm'"),
    ('Digest realm="r", nonce="n', "unterminated quoted value for 'nonce'"),
    ('Digest realm="r", realm="s", nonce="n"', "parameter 'realm' appears twice"),
    ('Digest realm=, nonce="n"', "parameter 'realm' has no valid value"),
    ("", "empty header value"),
    ('"Digest" realm="r"', "is not an authentication scheme"),
])
def test_malformed_challenges(value: str, message: str) -> None:
    with pytest.raises(SipAuthError, match=message):
        parse_challenges(value)


@pytest.mark.parametrize(("value", "message"), [
    ('Digest username="u", realm="r", nonce="n", uri="sip:r", response="x", nc=1, '
     'cnonce="c", qop=auth', "nc='1' is not 8 hex digits"),
    ('Digest username="u", realm="r", nonce="n", uri="sip:r", response="x", qop=auth',
     "qop given without nc and cnonce"),
    ('Digest username="u", realm="r", nonce="n", uri="sip:r"', "have no response"),
    ('Basic dXNlcjpwYXNz', "expected one Digest credentials value"),
])
def test_malformed_credentials(value: str, message: str) -> None:
    with pytest.raises(SipAuthError, match=message):
        parse_digest_response(value)


def test_odd_strings_a_caller_built_do_not_crash_the_client() -> None:
    client = DigestClient(Credentials("u\ud800", "p\udcff"))
    with pytest.raises(SipAuthError, match=r"no supported digest algorithm/qop offered \(x y\)"):
        client.handle_response(_response(401, [("WWW-Authenticate", 'Digest realm="\ud800", nonce="n", '
                                                                     'qop="auth", algorithm="x y"')]))
    assert client.challenges == []
    assert str(parse_challenges('Digest realm="r", nonce="n", algorithm="x y"')[0]).endswith(
        'algorithm="x y"')
    client.handle_response(_response(401, [("WWW-Authenticate", 'Digest realm="\ud800", nonce="n", '
                                                                 'qop="auth"')]))
    req = _request()
    client.authorize(req)
    assert parse_digest_response(req.get("Authorization") or "").realm == "\ud800"


def test_public_names_are_exported() -> None:
    for name in ("Challenge", "Credentials", "DigestClient", "DigestServer", "SipAuthError",
                 "parse_challenges", "parse_digest_response", "AuthVerdict", "DigestResponse"):
        assert name in offhook.sip.__all__ and hasattr(offhook.sip, name)
    assert Challenge(realm="r", nonce="n").supported


# --- fuzzing ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(['Digest', 'Basic', ' ', ',', '=', '"', '\\', 'realm', 'nonce', 'qop',
                           'algorithm', 'stale', 'true', 'MD5', 'SHA-256', 'auth', 'auth-int',
                           '"r"', '"n"', '"auth,auth-int"', 'abc==', '\t', 'é', ';', 'x'])


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=30).map("".join)))
def test_fuzz_challenge_parser_raises_only_sip_auth_error(value: str) -> None:
    try:
        got = parse_challenges(value)
    except SipAuthError:
        return
    for ch in got:                      # what parses serialises and parses back the same
        assert parse_challenges(str(ch)) == [ch]


@FUZZ
@given(st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=30).map("".join)))
def test_fuzz_credentials_parser_and_client(value: str) -> None:
    try:
        cred = parse_digest_response(value)
    except SipAuthError:
        pass
    else:
        assert parse_digest_response(str(cred)) == cred
    client = DigestClient(Credentials("u", "p"))
    try:
        retry = client.handle_response(_response(401, [("WWW-Authenticate", value)]))
    except SipAuthError:
        return
    assert retry is True
    req = _request()
    client.authorize(req)
    assert req.get("Authorization") or req.get("Proxy-Authorization")


_QTEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@FUZZ
@given(_QTEXT, _QTEXT, st.sampled_from(ALGORITHMS), st.lists(st.sampled_from(["auth", "auth-int"]),
                                                               min_size=1, max_size=2, unique=True))
def test_fuzz_challenge_round_trip(realm: str, nonce: str, algorithm: str, qop: list[str]) -> None:
    ch = Challenge(realm=realm, nonce=nonce, algorithm=algorithm, qop=tuple(qop))
    [back] = parse_challenges(str(ch))
    assert (back.realm, back.nonce, back.algorithm, back.qop) == (realm, nonce, algorithm, tuple(qop))


def test_server_accepts_an_independent_client_stdlib_urllib() -> None:
    """urllib.request's digest handler (MD5, qop=auth, quotes algorithm="MD5") as the far client."""
    import urllib.request

    server = DigestServer("example.com", {"alice": SECRET}, algorithms=("MD5",), check_uri=False)
    [ch] = server.challenge()
    mgr = urllib.request.HTTPPasswordMgr()
    mgr.add_password("example.com", "http://127.0.0.1/", "alice", SECRET)
    handler = urllib.request.AbstractDigestAuthHandler(mgr)
    http_req = urllib.request.Request("http://127.0.0.1/sip", method="REGISTER")
    chal = {"realm": ch.realm, "nonce": ch.nonce, "qop": "auth", "algorithm": "MD5",
            "opaque": ch.opaque or ""}
    value = handler.get_authorization(http_req, chal)
    assert value is not None and 'algorithm="MD5"' in value
    req = _request()
    req.set_header("Authorization", "Digest " + value)
    verdict = server.verify(req)
    assert verdict.ok and verdict.username == "alice", verdict
    wrong = _request()
    wrong.set_header("Authorization", "Digest " + value.replace('uri="/sip"', 'uri="/other"'))
    assert not server.verify(wrong).ok


_EXTRA_NAMES = st.lists(st.sampled_from(["qop", "algorithm", "opaque", "stale", "domain", "userhash",
                                         "charset", "x-extra", "realm"]), unique=True, max_size=6)
_VALUES = st.one_of(
    st.sampled_from(["MD5", "SHA-256", "SHA-512-256-sess", "auth", "true", "FALSE", '"auth,auth-int"']),
    st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,12}", fullmatch=True),
    _QTEXT.map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    _QTEXT)
_SEPS = st.sampled_from([",", ", ", " ,", ",\t", ",,", " , "])


@FUZZ
@given(_VALUES, _VALUES, st.data(),
       st.sampled_from(["Digest ", "digest  ", "Basic abc==, Digest ", "DIGEST\t"]))
def test_fuzz_structured_challenges(realm: str, nonce: str, data: st.DataObject, prefix: str) -> None:
    names = ["realm", "nonce", *data.draw(_EXTRA_NAMES)]   # a second realm: "appears twice"
    params = [(n, realm if n == "realm" else nonce if n == "nonce" else data.draw(_VALUES),
               data.draw(_SEPS)) for n in data.draw(st.permutations(names))]
    value = prefix + "".join(f"{n}={v}{sep}" for n, v, sep in params).rstrip(", \t")
    try:
        got = parse_challenges(value)
    except SipAuthError:
        event("refused")
        return
    event("parsed")
    [ch] = got
    assert ch.realm == (unquote_string(realm) if realm.startswith('"') else realm)
    assert ch.nonce == (unquote_string(nonce) if nonce.startswith('"') else nonce)
    assert parse_challenges(str(ch)) == [ch]
