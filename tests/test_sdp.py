"""SDP parsing and serialisation (offhook.sdp): round trips, accessors, bad input, fuzzing."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offhook.errors import OffhookError
from offhook.sdp import (
    MAX_LINE_LENGTH,
    MAX_LINES,
    MAX_MEDIA,
    MAX_SDP_BYTES,
    Attribute,
    Connection,
    Crypto,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SdpError,
    SessionDescription,
    parse_sdp,
)

DATA = Path(__file__).parent / "data" / "sdp"
FIXTURES = sorted(p.name for p in DATA.glob("*.sdp"))

MINIMAL = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
AUDIO = "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_fixtures_are_present():
    assert len(FIXTURES) >= 8, "tests/data/sdp lost its fixtures"


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_round_trips_byte_for_byte(name):
    raw = read(name)
    sdp = parse_sdp(raw)
    assert bytes(sdp) == raw
    assert parse_sdp(str(sdp)) == sdp


@pytest.mark.parametrize("name", FIXTURES)
def test_lf_line_ends_parse_to_the_same_description(name):
    raw = read(name)
    assert parse_sdp(raw.replace(b"\r\n", b"\n")) == parse_sdp(raw)
    # mixed line ends and a missing final line end are accepted too
    mixed = raw.replace(b"\r\n", b"\n", 3).rstrip(b"\r\n")
    assert parse_sdp(mixed) == parse_sdp(raw)


def test_baresip_offer_fields():
    sdp = parse_sdp(read("baresip_offer.sdp"))
    assert sdp.origin == Origin("-", "1434213926", 2880706467, "192.168.1.10")
    assert sdp.connection == Connection("192.168.1.10")
    assert sdp.values("tool") == ["baresip 3.10.1"]
    (audio,) = sdp.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 10000, "RTP/AVP")
    assert audio.payload_types == [96, 9, 0, 8, 101]
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert audio.rtpmap(9) == RtpMap(9, "G722", 8000)
    fmtp = audio.fmtp(96)
    assert fmtp is not None
    assert fmtp.as_dict() == {"stereo": "1", "sprop-stereo": "1", "useinbandfec": "1"}
    assert audio.fmtp(101) is not None and audio.fmtp(101).as_dict() == {"0-15": ""}
    assert audio.ptime == 20.0
    assert audio.direction == "sendrecv"
    assert audio.bandwidths[0].type == "AS" and audio.bandwidths[0].value == 128
    # unknown attributes kept in their order
    names = [attr.name for attr in audio.attributes]
    assert names.index("label") < names.index("ssrc") < names.index("rtcp-rsize") < names.index("ptime")
    assert not audio.rtcp_mux and audio.cryptos == [] and audio.mid is None


def test_rtpengine_rtcp_and_maxptime():
    audio = parse_sdp(read("rtpengine_offer.sdp")).media[0]
    assert audio.rtcp == Rtcp(30001)
    assert audio.maxptime == 150.0
    assert audio.attributes[0] == Attribute("maxptime", "150")


def test_ipv6_connection_rtcp_and_rejected_video():
    sdp = parse_sdp(read("ipv6_offer.sdp"))
    assert sdp.connection == Connection("2001:db8::10", "IP6")
    assert sdp.origin.addrtype == "IP6"
    audio, video = sdp.media
    assert audio.rtcp == Rtcp(7079, "IN", "IP6", "2001:db8::10")
    assert audio.rtcp_mux
    assert video.port == 0 and video.rtpmap(96) == RtpMap(96, "VP8", 90000)
    assert sdp.media_direction(audio) == "sendrecv"  # the default


def test_webrtc_offer_keeps_everything():
    sdp = parse_sdp(read("webrtc_offer.sdp"))
    assert sdp.connection is None
    audio = sdp.media[0]
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert audio.mid == "0"
    assert sdp.media_connection(audio) == Connection("0.0.0.0")
    assert audio.rtcp == Rtcp(9, "IN", "IP4", "0.0.0.0")
    assert len(audio.values("candidate")) == 2
    assert sdp.values("msid-semantic") == [" WMS 5ac7b8ff-3c39-4a5e-9a1d-0b6b2e6a5b9d"]
    assert audio.rtpmap(110) == RtpMap(110, "telephone-event", 48000)


def test_old_style_hold_connection_is_unspecified():
    sdp = parse_sdp(read("old_hold_reinvite.sdp"))
    audio = sdp.media[0]
    conn = sdp.media_connection(audio)
    assert conn is not None and conn.unspecified
    assert sdp.session_name == "SIP Call"


def test_crypto_lines_parse_and_hide_their_keys():
    sdp = parse_sdp(read("asterisk_srtp_offer.sdp"))
    first, second = sdp.media[0].cryptos
    assert (first.tag, first.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert (second.tag, second.suite) == (2, "AES_CM_128_HMAC_SHA1_32")
    assert first.inline_keys == ["WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"]
    assert not first.has_mki
    for text in (repr(sdp), repr(first), repr(sdp.media[0])):
        assert "WVNfX19z" not in text and "NzB4d1BI" not in text
    assert "<hidden>" in repr(sdp)
    assert str(first) == "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31"
    mki = Crypto.parse("3 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4")
    assert mki.has_mki


def test_bytes_and_str_serialisation_agree():
    sdp = parse_sdp(MINIMAL + AUDIO)
    assert str(sdp) == MINIMAL + AUDIO
    assert bytes(sdp) == (MINIMAL + AUDIO).encode()


def test_built_description_serialises_and_parses_back():
    media = MediaDescription("audio", 5004, "RTP/AVP", ["0", "101"])
    media.add("rtpmap", "0 PCMU/8000")
    media.add("rtpmap", "101 telephone-event/8000")
    media.add("fmtp", "101 0-16")
    media.add("x-custom", "anything: at all")
    media.set_direction("sendonly")
    media.set_direction("inactive")
    sdp = SessionDescription(origin=Origin("bob", "99", 3, "198.51.100.2"),
                             connection=Connection("224.2.1.1", ttl=127, count=3), media=[media])
    text = str(sdp)
    assert "c=IN IP4 224.2.1.1/127/3\r\n" in text
    assert "a=inactive\r\n" in text and "a=sendonly" not in text
    again = parse_sdp(text)
    assert again == sdp
    assert again.connection is not None and (again.connection.ttl, again.connection.count) == (127, 3)
    with pytest.raises(SdpError, match="rtpmap clock rate must be a positive integer"):
        media.add("rtpmap", "8 PCMA/0")


def test_utf8_session_name_and_repeat_lines():
    text = ("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=Café ☎\nc=IN IP4 192.0.2.1\nb=CT:64\n"
            "t=3034423619 3042462419\nr=604800 3600 0 90000\nt=0 0\nz=2882844526 -1h\na=recvonly\n")
    sdp = parse_sdp(text.encode())
    assert sdp.session_name == "Café ☎"
    assert sdp.timings[0].repeats == ["604800 3600 0 90000"]
    assert len(sdp.timings) == 2 and sdp.zone == "2882844526 -1h"
    assert sdp.direction == "recvonly"
    assert parse_sdp(str(sdp)) == sdp


BAD = [
    # (text, line, message fragment)
    ("", 1, "SDP is empty"),
    ("o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 1, "SDP must start with v="),
    ("v=1\r\n", 1, "only SDP version 0 exists"),
    ("v=0\r\ns=-\r\n", 2, "the second line must be o="),
    ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "o= needs"),
    ("v=0\r\no=- x 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "o= session id must be digits"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", 3, "the third line must be s="),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 2, "needs an o= and an s= line"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n", 4, "no t= line"),
    (MINIMAL + "hello world\r\n", 6, "expected '<letter>=<value>'"),
    (MINIMAL + "\r\n" + AUDIO, 6, "expected '<letter>=<value>', got ''"),
    (MINIMAL + "A=foo\r\n", 6, "expected '<letter>=<value>'"),
    (MINIMAL + "x=foo\r\n", 6, "x= is not a known line type"),
    (MINIMAL + "m=audio 70000 RTP/AVP 0\r\n", 6, "bad m= line: port must be 0..65535, not '70000'"),
    (MINIMAL + "m=audio -1 RTP/AVP 0\r\n", 6, "port must be 0..65535"),
    (MINIMAL + "m=audio 4000 RTP/AVP 128\r\n", 6, "payload type must be 0..127"),
    (MINIMAL + "m=audio 4000 RTP/AVP\r\n", 6, "m= needs"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0 8 0\r\n", 6, "bad m= line: a format is listed twice"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n", 7, "rtpmap needs '<encoding>/<clock rate>"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/eight\r\n", 7, "rtpmap clock rate"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=rtpmap:200 PCMU/8000\r\n", 7, "payload type must be 0..127"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMA/8000\r\n", 8,
     "a=rtpmap for format 0 appears twice"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=ptime:0\r\n", 7, "ptime must be positive"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=ptime:soon\r\n", 7, "ptime must be a number"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n", 8,
     "a=recvonly conflicts with the earlier a=sendonly"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=sendrecv:yes\r\n", 7, "a=sendrecv takes no value"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=rtcp:99999\r\n", 7, "port must be 0..65535"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 key:abc\r\n", 7,
     "key parameters must be 'inline:<key>'"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=crypto:1\r\n", 7, "crypto needs"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=fmtp\r\n", 7, "a=fmtp needs a value"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n", 5,
     "c= appears twice"),
    (MINIMAL + "c=IN IP4 192.0.2.2\r\n", 6, "c= is out of order: it must come before t="),
    (MINIMAL + "s=again\r\n", 6, "s= is out of order"),
    (MINIMAL + "m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\nc=IN IP4 192.0.2.1\r\n", 8, "c= is out of order"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.300\r\nt=0 0\r\n", 4,
     "is neither an IP4 address nor a host name"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP6 192.0.2.1\r\nt=0 0\r\n", 4, "is not an IP6 address"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP5 192.0.2.1\r\nt=0 0\r\n", 4, "must be IP4 or IP6"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=ATM IP4 192.0.2.1\r\nt=0 0\r\n", 4,
     "network type must be IN"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", 5,
     "m=audio has no c= line"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 4000 RTP/AVP 0\r\n", 4, "needs a t= line before"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb=AS\r\nt=0 0\r\n", 4, "b= needs '<type>:<number>'"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=now 0\r\n", 4, "t= needs"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nr=1 2 3\r\nt=0 0\r\n", 4, "r= must follow a t= line"),
    (MINIMAL + "a=foo\x00bar\r\n", 6, "NUL"),
    (MINIMAL + "a=foo\rbar\r\n", 6, "bare CR"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), BAD,
                         ids=[f"{i}:{b[2][:30]}" for i, b in enumerate(BAD)])
def test_bad_sdp_is_refused_with_its_line(text, line, fragment):
    with pytest.raises(SdpError) as info:
        parse_sdp(text)
    assert info.value.line == line, str(info.value)
    assert fragment in info.value.reason
    assert str(info.value).startswith(f"SDP line {line}: ")
    assert isinstance(info.value, ValueError) and isinstance(info.value, OffhookError)


def test_invalid_utf8_names_its_line():
    with pytest.raises(SdpError, match=r"SDP line 3: not valid UTF-8"):
        parse_sdp(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=\xff\r\nt=0 0\r\n")


def test_lone_surrogate_in_text_is_refused():
    with pytest.raises(SdpError, match=r"SDP line 3: text holds a lone surrogate"):
        parse_sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=\udc80\r\nt=0 0\r\n")


def test_multibyte_text_is_measured_in_bytes():
    body = MINIMAL + "".join(f"a=x-pad:{'☎' * 60}\r\n" for _ in range(400))
    assert len(body) < MAX_SDP_BYTES < len(body.encode())
    with pytest.raises(SdpError, match=f"larger than {MAX_SDP_BYTES} bytes") as info:
        parse_sdp(body)
    assert info.value.line == body.encode()[:MAX_SDP_BYTES].count(b"\n") + 1


def test_non_text_input_is_refused():
    with pytest.raises(SdpError, match="SDP must be str or bytes, not int"):
        parse_sdp(42)  # type: ignore[arg-type]


def test_oversized_sdp_is_refused():
    body = MINIMAL + "".join(f"a=x-pad:{i:06d}{'.' * 60}\r\n" for i in range(MAX_SDP_BYTES // 60))
    assert len(body) > MAX_SDP_BYTES
    for data in (body, body.encode()):
        with pytest.raises(SdpError, match=f"larger than {MAX_SDP_BYTES} bytes") as info:
            parse_sdp(data)
        # the line on which the limit is crossed
        assert info.value.line == body[:MAX_SDP_BYTES].count("\n") + 1 == 867


def test_overlong_line_is_refused():
    with pytest.raises(SdpError, match=f"SDP line 6: line is longer than {MAX_LINE_LENGTH}"):
        parse_sdp(MINIMAL + "a=x:" + "y" * MAX_LINE_LENGTH + "\r\n")


def test_too_many_lines_are_refused():
    with pytest.raises(SdpError, match=f"more than {MAX_LINES} lines") as info:
        parse_sdp(MINIMAL + "a=x\r\n" * MAX_LINES)
    assert info.value.line == MAX_LINES + 1


def test_too_many_media_are_refused():
    with pytest.raises(SdpError, match=f"more than {MAX_MEDIA} m= lines") as info:
        parse_sdp(MINIMAL + AUDIO * (MAX_MEDIA + 1))
    assert info.value.line == 5 + 2 * MAX_MEDIA + 1


def test_trailing_blank_lines_and_empty_session_name_are_tolerated():
    sdp = parse_sdp("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=\nc=IN IP4 192.0.2.1\nt=0 0\n\n\r\n")
    assert sdp.session_name == ""
    assert str(sdp).endswith("t=0 0\r\n")


# -- fuzzing: the parser answers anything with a description or an SdpError ------

_LINES = [line for name in FIXTURES for line in read(name).decode().split("\r\n") if line]


def _parse_or_sdp_error(data: str | bytes) -> None:
    try:
        sdp = parse_sdp(data)
    except SdpError as exc:
        assert exc.reason
        return
    # whatever parses serialises to something that parses to the same thing
    assert parse_sdp(str(sdp)) == sdp
    assert parse_sdp(bytes(sdp)) == sdp


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["v=0", MINIMAL.removesuffix("\r\n"), MINIMAL + AUDIO.removesuffix("\r\n")]),
       st.lists(st.sampled_from(_LINES) | st.text(max_size=40), max_size=30),
       st.sampled_from(["\r\n", "\n"]))
def test_fuzz_shuffled_real_lines(head, lines, newline):
    _parse_or_sdp_error(newline.join([head.replace("\r\n", newline), *lines]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIXTURES), st.data())
def test_fuzz_mutated_fixtures(name, data):
    raw = bytearray(read(name))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if op == "flip":
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 20))]
        else:
            raw[pos:pos] = data.draw(st.binary(max_size=12))
        if not raw:
            break
    _parse_or_sdp_error(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(data):
    _parse_or_sdp_error(b"v=0\r\n" + data)
