"""RTP packet layer (offhook.engine: parse_rtp, RtpSender, RtpSource, RTCP, RFC 4733, SRTP).

Parsers are checked against straightforward Python references on random and
mutated bytes (hypothesis); the RFC 3550 A.1/A.3/A.8 statistics against a
Python transcription of the appendix on generated arrival sequences with
loss, reordering, duplicates and sequence wrap.
"""
from __future__ import annotations

import math
import random
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offhook.engine as eng
from offhook import RtpError, SrtpError
from offhook.engine import PacketDefect, SeqVerdict

# ---------------------------------------------------------------- references


def ref_parse_rtp(data: bytes) -> tuple[str, object]:
    """RFC 3550 5.1 header checks, written the obvious way with struct."""
    if len(data) < 12:
        return "defect", PacketDefect.TRUNCATED
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    if b0 >> 6 != 2:
        return "defect", PacketDefect.BAD_VERSION
    cc = b0 & 0x0F
    off = 12 + 4 * cc
    if off > len(data):
        return "defect", PacketDefect.CSRC_OVERRUN
    csrc = struct.unpack(f"!{cc}I", data[12:off])
    ext = None
    if b0 & 0x10:
        if off + 4 > len(data):
            return "defect", PacketDefect.EXT_OVERRUN
        profile, words = struct.unpack("!HH", data[off:off + 4])
        off += 4
        if off + 4 * words > len(data):
            return "defect", PacketDefect.EXT_OVERRUN
        ext = (profile, data[off:off + 4 * words])
        off += 4 * words
    end = len(data)
    if b0 & 0x20:
        if end == off or data[-1] == 0 or data[-1] > end - off:
            return "defect", PacketDefect.BAD_PADDING
        end -= data[-1]
    return "ok", (b1 & 0x7F, bool(b1 >> 7), seq, ts, ssrc, csrc, data[off:end], ext)


RTP_SEQ_MOD = 1 << 16


class RefSource:
    """RFC 3550 A.1 (update_seq), A.8 (jitter) and A.3 (loss), transcribed."""

    def __init__(self, clock_rate: int = 8000, min_sequential: int = 2, max_dropout: int = 3000,
                 max_misorder: int = 100) -> None:
        self.rate, self.min_seq = clock_rate, min_sequential
        self.max_dropout, self.max_misorder = max_dropout, max_misorder
        self.started = False
        self.transit: int | None = None
        self.jitter = 0.0
        self.expected_prior = self.received_prior = 0

    def init_seq(self, seq: int) -> None:
        self.base_seq = self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = self.expected_prior = 0
        self.transit = None
        self.jitter = 0.0

    def update_seq(self, seq: int) -> int:
        udelta = (seq - self.max_seq) % RTP_SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % RTP_SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self.init_seq(seq)
                    self.received += 1
                    return SeqVerdict.VALID
            else:
                self.probation = self.min_seq - 1
                self.max_seq = seq
            return SeqVerdict.PROBATION
        if udelta < self.max_dropout:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - self.max_misorder:
            if seq == self.bad_seq:
                self.init_seq(seq)
                self.received += 1
                return SeqVerdict.RESYNC
            self.bad_seq = (seq + 1) % RTP_SEQ_MOD
            return SeqVerdict.BAD
        self.received += 1
        return SeqVerdict.VALID

    def update(self, seq: int, ts: int, arrival_ms: float) -> int:
        if not self.started:
            self.started = True
            self.init_seq(seq)
            self.max_seq = (seq - 1) % RTP_SEQ_MOD
            self.probation = self.min_seq
        v = self.update_seq(seq)
        if v in (SeqVerdict.PROBATION, SeqVerdict.BAD):
            return v
        arrival = math.floor(arrival_ms * self.rate / 1000) % 2**32
        transit = (arrival - ts) % 2**32
        if self.transit is not None:
            d = (transit - self.transit) % 2**32
            d = d - 2**32 if d >= 2**31 else d
            self.jitter += (abs(d) - self.jitter) / 16
        self.transit = transit
        return v

    def expected(self) -> int:
        return self.cycles + self.max_seq + 1 - self.base_seq

    def report(self) -> tuple[int, int]:
        expected = self.expected()
        lost = expected - self.received
        exp_int = expected - self.expected_prior
        rec_int = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        lost_int = exp_int - rec_int
        fraction = (lost_int << 8) // exp_int if exp_int > 0 and lost_int > 0 else 0
        return fraction, max(-0x800000, min(0x7FFFFF, lost))


# ---------------------------------------------------------------- RTP


def test_build_parse_round_trip_is_byte_exact():
    pkt = eng.build_rtp(bytes(range(160)), payload_type=96, seq=65535, timestamp=0xDEADBEEF,
                        ssrc=0x01020304, marker=True, csrc=[11, 0xFFFFFFFF])
    assert pkt[:2] == b"\x82\xe0" and len(pkt) == 12 + 8 + 160
    p = eng.parse_rtp(pkt)
    assert (p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc) == (96, True, 65535, 0xDEADBEEF,
                                                                      0x01020304)
    assert p.csrc == (11, 0xFFFFFFFF) and p.payload == bytes(range(160))
    again = eng.build_rtp(p.payload, payload_type=p.payload_type, seq=p.seq, timestamp=p.timestamp,
                          ssrc=p.ssrc, marker=p.marker, csrc=p.csrc)
    assert again == pkt


def test_interop_struct_made_packet_with_extension_and_padding():
    # V=2 P=1 X=1 CC=1 M=0 PT=0, one-byte-header extension (0xBEDE), 3 payload bytes, 5 of padding
    ext = struct.pack("!HH", 0xBEDE, 2) + bytes([0x10, 0xAA, 0x21, 0xBB, 0xCC, 0, 0, 0])
    data = struct.pack("!BBHII", 0xB1, 0, 4242, 123456, 0xCAFEBABE) + struct.pack("!I", 77) + ext
    data += b"\x01\x02\x03" + b"\x00" * 4 + b"\x05"
    p = eng.parse_rtp(data)
    assert (p.seq, p.timestamp, p.ssrc, p.csrc) == (4242, 123456, 0xCAFEBABE, (77,))
    assert p.padding and p.extension and p.ext_profile == 0xBEDE and p.ext_data == ext[4:]
    assert p.payload == b"\x01\x02\x03"


def test_interop_scapy_made_packet():
    import scapy.layers.rtp as scapy_rtp  # a test dependency: an independent RTP implementation
    pkt = scapy_rtp.RTP(version=2, marker=1, payload_type=8, sequence=513, timestamp=7,
                        sourcesync=9, numsync=2, sync=[0x11223344, 5]) / b"xyz"
    p = eng.parse_rtp(bytes(pkt))
    assert (p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc) == (8, True, 513, 7, 9)
    assert p.csrc == (0x11223344, 5) and p.payload == b"xyz"


@pytest.mark.parametrize(("data", "defect", "message"), [
    (b"\x80\x00\x00", PacketDefect.TRUNCATED, "RTP packet of 3 bytes: truncated"),
    (bytes([0x40]) + bytes(11), PacketDefect.BAD_VERSION, "RTP packet of 12 bytes: bad version"),
    (bytes([0x8F]) + bytes(15), PacketDefect.CSRC_OVERRUN,
     "RTP packet of 16 bytes: CSRC list overruns the packet"),
    (bytes([0x90]) + bytes(11) + b"\xbe\xde\x00\x09", PacketDefect.EXT_OVERRUN,
     "RTP packet of 16 bytes: header extension overruns the packet"),
    (bytes([0xA0]) + bytes(11) + b"ab\x00\x09", PacketDefect.BAD_PADDING,
     "RTP packet of 16 bytes: bad padding"),
    (bytes([0xA0]) + bytes(11) + b"ab\x00\x00", PacketDefect.BAD_PADDING,
     "RTP packet of 16 bytes: bad padding"),
])
def test_each_malformed_class_has_its_defect(data, defect, message):
    with pytest.raises(RtpError) as info:
        eng.parse_rtp(data)
    assert info.value.defect is defect
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def _check_against_reference(data: bytes) -> None:
    kind, want = ref_parse_rtp(data)
    if kind == "defect":
        with pytest.raises(RtpError) as info:
            eng.parse_rtp(data)
        assert info.value.defect is want
        return
    p = eng.parse_rtp(data)
    ext = (p.ext_profile, p.ext_data) if p.extension else None
    assert (p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc, p.csrc, p.payload, ext) == want


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_parse_rtp_matches_reference_on_random_bytes(data):
    _check_against_reference(data)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 15), st.booleans(), st.integers(0, 4), st.binary(max_size=40),
       st.integers(0, 255), st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), max_size=4),
       st.integers(0, 70))
def test_parse_rtp_matches_reference_on_mutated_packets(cc, ext, ext_words, payload, pad, flips, cut):
    data = bytearray(struct.pack("!BBHII", 0x80 | cc | (0x10 if ext else 0), 0, 1, 2, 3))
    data += bytes(4 * cc)
    if ext:
        data += struct.pack("!HH", 0xBEDE, ext_words) + bytes(4 * ext_words)
    data += payload
    if pad:
        data[0] |= 0x20
        data += bytes([pad % 8])
    for pos, mask in flips:
        if pos < len(data):
            data[pos] ^= mask
    _check_against_reference(bytes(data[:max(0, len(data) - cut % 8)]))


def test_is_rtcp_follows_rfc5761():
    assert eng.is_rtcp(eng.rtcp_rr(1))
    assert not eng.is_rtcp(eng.build_rtp(b"", payload_type=0, seq=0, timestamp=0, ssrc=0, marker=True))
    assert not eng.is_rtcp(b"\x80")
    assert eng.pt_conflicts_with_rtcp(72) and not eng.pt_conflicts_with_rtcp(101)


def test_sender_numbering_marker_and_event_packets():
    tx = eng.RtpSender(0xABCDEF01, 0, seed=99)
    first = eng.parse_rtp(tx.write(bytes(160), 160))
    second = eng.parse_rtp(tx.write(bytes(160), 160))
    assert first.marker and not second.marker
    assert second.seq == (first.seq + 1) % 65536
    assert second.timestamp == (first.timestamp + 160) % 2**32
    ev = eng.parse_rtp(tx.write_event(b"\x01\x0a\x00\xa0", 101, tx.timestamp, marker=True))
    assert ev.payload_type == 101 and ev.seq == (first.seq + 2) % 65536
    tx.skip(160)
    third = eng.parse_rtp(tx.write(bytes(160), 160, talkspurt_start=True))
    assert third.marker and third.timestamp == (first.timestamp + 480) % 2**32
    assert tx.stats()["packets"] == 4 and tx.stats()["octets"] == 3 * 160 + 4
    # the seed decides the random start: reproducible, and different for another seed
    assert eng.parse_rtp(eng.RtpSender(1, 0, seed=99).write(b"", 0)).seq == first.seq
    starts = {eng.parse_rtp(eng.RtpSender(1, 0, seed=s).write(b"", 0)).seq for s in range(50)}
    assert len(starts) > 45


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match=re.escape("payload_type must be 0..127, got 128")):
        eng.RtpSender(1, 128)
    with pytest.raises(ValueError, match=re.escape("ssrc must be 0..4294967295, got -1")):
        eng.build_rtp(b"", payload_type=0, seq=0, timestamp=0, ssrc=-1)
    with pytest.raises(ValueError, match="at most 15 CSRCs, got 16"):
        eng.build_rtp(b"", payload_type=0, seq=0, timestamp=0, ssrc=0, csrc=range(16))
    with pytest.raises(TypeError, match="parse_rtp data must be bytes-like, got str"):
        eng.parse_rtp("not bytes")
    with pytest.raises(ValueError, match=re.escape("min_sequential must be 1..100, got 0")):
        eng.RtpSource(min_sequential=0)
    src = eng.RtpSource()
    src.update(1, 5, 0, 0.0)
    with pytest.raises(RtpError, match="not the one latched"):
        src.update(2, 6, 160, 20.0)
    with pytest.raises(RtpError, match="no valid packet received yet"):
        src.report(0.0)


# ---------------------------------------------------------------- statistics


def arrivals(rng: random.Random, n: int, seq0: int, ts0: int, loss: float, dup: float,
             reorder: float, jitter_ms: float, jump_at: int | None = None):
    """(seq, timestamp, arrival_ms) of n 20 ms packets through a lossy, jittery path."""
    out = []
    seq, ts = seq0, ts0
    for i in range(n):
        if jump_at is not None and i == jump_at:
            seq = (seq + 30000) % 65536  # a sender restart
        send = 20.0 * i
        if rng.random() >= loss:
            arrival = send + 40 + round(rng.uniform(0, jitter_ms), 3)
            out.append((seq, ts, arrival))
            if rng.random() < dup:
                out.append((seq, ts, arrival + 1))
        seq = (seq + 1) % 65536
        ts = (ts + 160) % 2**32
    for i in range(len(out) - 1):
        if rng.random() < reorder:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


@pytest.mark.parametrize(("seed", "loss", "dup", "reorder", "jitter", "seq0", "jump"), [
    (1, 0.0, 0.0, 0.0, 0.0, 100, None),
    (2, 0.05, 0.0, 0.0, 30.0, 65000, None),        # wraps
    (3, 0.1, 0.05, 0.1, 60.0, 65500, None),        # loss, duplicates, reordering, wrap
    (4, 0.02, 0.02, 0.05, 10.0, 0, 700),           # a sender restart
    (5, 0.3, 0.1, 0.3, 100.0, 65535, None),
])
def test_source_statistics_match_rfc3550_reference(seed, loss, dup, reorder, jitter, seq0, jump):
    rng = random.Random(seed)
    packets = arrivals(rng, 1500, seq0, rng.randrange(2**32), loss, dup, reorder, jitter, jump)
    src, ref = eng.RtpSource(8000), RefSource(8000)
    for k, (seq, ts, t) in enumerate(packets):
        assert src.update(seq, 0x1234, ts, t) == ref.update(seq, ts, t)
        if k % 250 == 249:  # an RTCP interval
            block = src.report(t)
            fraction, lost = ref.report()
            assert (block.fraction_lost, block.cumulative_lost) == (fraction, lost)
            assert block.extended_max_seq == ref.cycles + ref.max_seq
            assert block.jitter == int(ref.jitter)
    s = src.stats()
    assert s["received"] == ref.received and s["expected"] == ref.expected()
    assert s["cumulative_lost"] == ref.expected() - ref.received
    assert s["jitter"] == pytest.approx(ref.jitter, rel=1e-12, abs=1e-9)
    if jump is not None:
        assert s["resyncs"] == 1
    if loss and not dup and jump is None:
        assert s["cumulative_lost"] > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1),
                          st.floats(0, 1e7, allow_nan=False)), max_size=60))
def test_source_matches_reference_on_arbitrary_packets(packets):
    src, ref = eng.RtpSource(16000), RefSource(16000)
    for seq, ts, t in packets:
        assert src.update(seq, 1, ts, t) == ref.update(seq, ts, t)
    if ref.started and not ref.probation:
        assert src.stats()["received"] == ref.received
        assert src.stats()["jitter"] == pytest.approx(ref.jitter, rel=1e-9, abs=1e-6)


# ---------------------------------------------------------------- RTCP


def test_rtcp_compound_round_trip_and_rtt():
    # a call: A sends an SR at t=1000 ms; B receives it 30 ms later, replies 200 ms
    # after that with an RR whose block carries LSR/DLSR; A gets it 30 ms later.
    sec, frac = eng.ntp_from_unix_ms(1_700_000_001_000.0)
    sr = eng.rtcp_sr(eng.SenderInfo(0xA, sec, frac, 8000, 50, 8000))
    sr += eng.rtcp_sdes_cname(0xA, "alice@example.com")
    info = eng.parse_rtcp(sr)
    assert info.sender_info == (0xA, sec, frac, 8000, 50, 8000) and info.cname == b"alice@example.com"
    b_side = eng.RtpSource()
    for i in range(3):
        b_side.update(i, 0xA, 160 * i, 20.0 * i)
    b_side.on_sr(info.sender_info.ntp_sec, info.sender_info.ntp_frac, arrival_ms=1030.0)
    block = b_side.report(now_ms=1230.0)
    rr = eng.rtcp_rr(0xB, [block]) + eng.rtcp_sdes_cname(0xB, "bob") + eng.rtcp_bye([0xB], "bye now")
    got = eng.parse_rtcp(rr)
    assert got.rr_ssrc == 0xB and got.blocks == [block] and got.bye_ssrcs == [0xB]
    assert got.bye_reason == b"bye now" and got.packets == 3
    arrival = eng.ntp_middle(*eng.ntp_from_unix_ms(1_700_000_001_260.0))
    rtt = eng.rtcp_rtt_ms(arrival, got.blocks[0].lsr, got.blocks[0].dlsr)
    assert rtt == pytest.approx(60.0, abs=0.05)
    with pytest.raises(RtpError, match="LSR is 0"):
        eng.rtcp_rtt_ms(arrival, 0, 0)


@pytest.mark.parametrize(("mutate", "defect"), [
    (lambda d: d[:3], PacketDefect.TRUNCATED),
    (lambda d: b"\x40" + d[1:], PacketDefect.BAD_VERSION),
    (lambda d: d[:1] + bytes([202]) + d[2:], PacketDefect.BAD_TYPE),
    (lambda d: d[:-4], PacketDefect.BAD_LENGTH),
    (lambda d: bytes([0x80 | 31]) + d[1:], PacketDefect.BAD_LENGTH),
    (lambda d: bytes([d[0] | 0x20]) + d[1:], PacketDefect.BAD_PADDING),
])
def test_rtcp_malformed(mutate, defect):
    good = eng.rtcp_rr(1, [eng.ReportBlock(2, 0, 0, 0, 0, 0, 0)]) + eng.rtcp_bye([1])
    with pytest.raises(RtpError) as info:
        eng.parse_rtcp(mutate(good))
    assert info.value.defect is defect


def ref_rtcp_ok(data: bytes) -> bool:
    """A.2's compound checks plus per-packet bounds, the obvious way."""
    if len(data) < 4 or len(data) % 4 or data[0] >> 6 != 2 or data[0] & 0x20 or data[1] not in (200, 201):
        return False
    off = 0
    while off < len(data):
        if len(data) - off < 4 or data[off] >> 6 != 2:
            return False
        plen = 4 * (struct.unpack("!H", data[off + 2:off + 4])[0] + 1)
        if off + plen > len(data):
            return False
        count, pt = data[off] & 31, data[off + 1]
        blen = plen - 4
        if data[off] & 0x20:
            pad = data[off + plen - 1]
            if off + plen != len(data) or pad == 0 or pad > blen:
                return False
            blen -= pad
        body = data[off + 4:off + 4 + blen]
        if (pt == 200 and blen < 24 + 24 * count) or (pt == 201 and blen < 4 + 24 * count):
            return False
        if pt == 203:
            if 4 * count > blen:
                return False
            if 4 * count < blen and body[4 * count] > blen - 4 * count - 1:
                return False
        if pt == 202:
            pos = 0
            for _ in range(count):
                if blen - pos < 4:
                    return False
                pos += 4
                while True:
                    if pos >= blen:
                        return False
                    if body[pos] == 0:
                        pos = (pos + 4) & ~3
                        if pos > blen:
                            return False
                        break
                    if blen - pos < 2 or body[pos + 1] > blen - pos - 2:
                        return False
                    pos += 2 + body[pos + 1]
        if not 192 <= pt <= 223:
            return False
        off += plen
    return True


def _compound() -> bytes:
    return (eng.rtcp_sr((1, 2, 3, 4, 5, 6), [eng.ReportBlock(7, 8, -9, 10, 11, 12, 13)])
            + eng.rtcp_sdes_cname(1, "host") + eng.rtcp_bye([1, 2], "x"))


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.binary(max_size=120),
    st.lists(st.tuples(st.integers(0, 119), st.integers(1, 255)), min_size=1, max_size=5)
    .map(lambda flips: _flip(_compound(), flips))))
def test_parse_rtcp_agrees_with_reference(data):
    ok = ref_rtcp_ok(data)
    try:
        eng.parse_rtcp(data)
    except RtpError as e:
        assert not ok and e.defect is not None and e.defect != PacketDefect.OK
    else:
        assert ok


def _flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, mask in flips:
        out[pos % len(out)] ^= mask
    return bytes(out)


# ---------------------------------------------------------------- RFC 4733


def test_telephone_event_payload():
    payload = eng.encode_telephone_event("#", end=True, volume=10, duration=1600)
    assert payload == b"\x0b\x8a\x06\x40"
    assert eng.decode_telephone_event(payload) == (11, True, 10, 1600)
    with pytest.raises(RtpError) as info:
        eng.decode_telephone_event(b"\x0b\x8a")
    assert info.value.defect is PacketDefect.TRUNCATED
    with pytest.raises(ValueError, match="DTMF digit must be one of 0-9"):
        eng.encode_telephone_event("x")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=8))
def test_telephone_event_decode_never_crashes(data):
    if len(data) == 4:
        ev = eng.decode_telephone_event(data)
        assert ev == (data[0], bool(data[1] & 0x80), data[1] & 0x3F, data[2] << 8 | data[3])
    else:
        with pytest.raises(RtpError):
            eng.decode_telephone_event(data)


def test_dtmf_over_rtp_each_digit_exactly_once():
    rng = random.Random(7)
    tx, dtmf = eng.RtpSender(0x77, 0, seed=3), eng.DtmfRtpSender()
    wire = []
    digits = "0123456789*#ABCD11"
    for digit in digits:
        dtmf.start(digit, 100, tx.timestamp)
        while (pk := dtmf.poll()) is not None:
            wire.append(tx.write_event(pk.payload, 101, pk.timestamp, pk.marker))
            if pk.last:
                wire.append(wire[-1])  # a retransmission on the path
        tx.skip(8000 // 50 * 8)
    # lose 15 % of the packets that are not end packets
    wire = [w for w in wire
            if rng.random() > 0.15 or eng.decode_telephone_event(eng.parse_rtp(w).payload).end]
    for i in range(len(wire) - 1):
        a, b = eng.parse_rtp(wire[i]), eng.parse_rtp(wire[i + 1])
        if a.timestamp == b.timestamp and rng.random() < 0.2:
            wire[i], wire[i + 1] = wire[i + 1], wire[i]
    rx = eng.DtmfRtpReceiver()
    begun, ended = [], []
    for w in wire:
        p = eng.parse_rtp(w)
        assert p.payload_type == 101
        rep = rx.put(p.timestamp, p.payload)
        if rep and rep.begin:
            begun.append(rep.digit)
        if rep and rep.end:
            ended.append((rep.digit, rep.duration))
    assert "".join(begun) == digits
    assert ended == [(d, 800) for d in digits]


def test_dtmf_sender_rules():
    dtmf = eng.DtmfRtpSender(ptime_ms=20)
    dtmf.start(5, 60, 1000)
    with pytest.raises(RtpError, match="still being sent"):
        dtmf.start(6, 60, 2000)
    packets = []
    while (pk := dtmf.poll()) is not None:
        packets.append(pk)
    events = [eng.decode_telephone_event(p.payload) for p in packets]
    assert [p.marker for p in packets] == [True, False, False, False, False]
    assert [e.duration for e in events] == [160, 320, 480, 480, 480]
    assert [e.end for e in events] == [False, False, True, True, True]
    assert {p.timestamp for p in packets} == {1000} and packets[-1].last
    with pytest.raises(ValueError, match="at least one ptime"):
        dtmf.start(1, 5, 0)


# ---------------------------------------------------------------- SRTP


@pytest.mark.parametrize(("suite", "tag"), [("AES_CM_128_HMAC_SHA1_80", 10),
                                            ("AES_CM_128_HMAC_SHA1_32", 4),
                                            ("AEAD_AES_128_GCM", 16)])
def test_srtp_round_trip_auth_and_replay(suite, tag):
    ka, kb = eng.srtp_random_key(suite), eng.srtp_random_key(suite)
    assert len(ka) == eng.srtp_key_length(suite)
    alice, bob = eng.SrtpSession(suite, ka, kb), eng.SrtpSession(suite, kb, ka)
    tx = eng.RtpSender(0x5EED, 0, seed=1)
    for i in range(50):
        rtp = tx.write(bytes([i]) * 160, 160)
        srtp = alice.protect(rtp)
        assert len(srtp) == len(rtp) + tag and srtp[12:172] != rtp[12:172]
        if i == 10:
            forged = bytearray(srtp)
            forged[30] ^= 1
            with pytest.raises(SrtpError) as info:
                bob.unprotect(bytes(forged))
            assert info.value.defect is PacketDefect.AUTH_FAIL
            assert str(info.value) == f"SRTP unprotect of {len(srtp)} bytes: authentication failed"
        assert bob.unprotect(srtp) == rtp
        if i == 20:
            with pytest.raises(SrtpError) as info:
                bob.unprotect(srtp)
            assert info.value.defect is PacketDefect.REPLAY
    rtcp = eng.rtcp_rr(0x5EED) + eng.rtcp_sdes_cname(0x5EED, "a")
    srtcp = alice.protect_rtcp(rtcp)
    assert bob.unprotect_rtcp(srtcp) == rtcp
    with pytest.raises(SrtpError) as info:
        bob.unprotect_rtcp(srtcp)
    assert info.value.defect is PacketDefect.REPLAY
    with pytest.raises(SrtpError) as info:
        bob.unprotect(b"\x80\x00")
    assert info.value.defect is PacketDefect.TRUNCATED
    with pytest.raises(SrtpError) as info:
        bob.unprotect(bytes([0x8F]) + bytes(30))
    assert info.value.defect is PacketDefect.CSRC_OVERRUN
    # a session keyed with the wrong remote key authenticates nothing
    eve = eng.SrtpSession(suite, kb, eng.srtp_random_key(suite))
    with pytest.raises(SrtpError) as info:
        eve.unprotect(alice.protect(tx.write(b"x" * 160, 160)))
    assert info.value.defect is PacketDefect.AUTH_FAIL


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_srtp_unprotect_random_bytes_is_refused(data):
    key = bytes(30)
    session = eng.SrtpSession("AES_CM_128_HMAC_SHA1_80", key, key)
    with pytest.raises(SrtpError) as info:
        session.unprotect(data)
    assert info.value.defect is not None


def test_sdes_crypto_parse_and_format():
    rfc = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
    c = eng.parse_sdes_crypto("a=crypto:" + rfc)
    assert (c.tag, c.suite, c.lifetime, c.mki, c.mki_len) == (1, "AES_CM_128_HMAC_SHA1_80", 2**20, 1, 4)
    assert c.key[:3] == bytes([0x3D, 0x2D, 0x6E]) and len(c.key) == 30
    assert eng.format_sdes_crypto(c.tag, c.suite, c.key, c.lifetime, c.mki, c.mki_len) == rfc
    for suite in eng.SRTP_SUITES:
        key = eng.srtp_random_key(suite)
        text = eng.format_sdes_crypto(3, suite, key)
        assert eng.parse_sdes_crypto(text) == (3, suite, key, None, None, None)
    with pytest.raises(SrtpError, match="malformed"):
        eng.parse_sdes_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:short")
    with pytest.raises(SrtpError, match="unsupported"):
        eng.parse_sdes_crypto("1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
    with pytest.raises(SrtpError, match="unknown SRTP suite 'NULL'"):
        eng.SrtpSession("NULL", b"", b"")
    with pytest.raises(SrtpError, match="local_key must be 28 bytes of key\\|\\|salt, got 30"):
        eng.SrtpSession("AEAD_AES_128_GCM", bytes(30), bytes(28))
