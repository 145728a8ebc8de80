# cython: language_level=3, boundscheck=False, wraparound=False
"""The RTP packet layer of the C core: oh_rtp, oh_rtcp, oh_dtmf_rtp, oh_srtp.

Only moves arguments and results; validation and state live in csrc/. Per-
packet parsing and building keep the GIL (each takes a fraction of a
microsecond, less than releasing it costs); SRTP's cryptography runs without it.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cimport cython

cimport oh_dtmf_rtp as d
cimport oh_rtcp as r
cimport oh_rtp as p
cimport oh_srtp as s
from _buffers cimport Borrowed, acquire_bytes, release
from _status cimport check
from oh_status cimport OH_EBADPKT, OH_EINVAL, OH_ESTATE, OH_EUNSUPPORTED, oh_strerror

from collections import namedtuple
from enum import IntEnum

from offhook.errors import RtpError, SrtpError


class PacketDefect(IntEnum):
    """Why a packet was refused (oh_pkt_defect in csrc/include/offhook/oh_rtp.h)."""
    OK = p.OH_PKT_OK
    TRUNCATED = p.OH_PKT_TRUNCATED
    BAD_VERSION = p.OH_PKT_BAD_VERSION
    BAD_PADDING = p.OH_PKT_BAD_PADDING
    CSRC_OVERRUN = p.OH_PKT_CSRC_OVERRUN
    EXT_OVERRUN = p.OH_PKT_EXT_OVERRUN
    BAD_LENGTH = p.OH_PKT_BAD_LENGTH
    BAD_TYPE = p.OH_PKT_BAD_TYPE
    BAD_ITEM = p.OH_PKT_BAD_ITEM
    AUTH_FAIL = p.OH_PKT_AUTH_FAIL
    REPLAY = p.OH_PKT_REPLAY
    UNKNOWN_SSRC = p.OH_PKT_UNKNOWN_SSRC


class SeqVerdict(IntEnum):
    """What RtpSource.update decided about a packet (RFC 3550 A.1)."""
    VALID = p.OH_RTP_SEQ_VALID
    PROBATION = p.OH_RTP_SEQ_PROBATION
    BAD = p.OH_RTP_SEQ_BAD
    RESYNC = p.OH_RTP_SEQ_RESYNC


cdef tuple _DEFECTS = tuple(PacketDefect(i) for i in range(12))
cdef tuple _VERDICTS = tuple(SeqVerdict(i) for i in range(4))

ReportBlock = namedtuple("ReportBlock", "ssrc fraction_lost cumulative_lost extended_max_seq "
                                        "jitter lsr dlsr")
SenderInfo = namedtuple("SenderInfo", "ssrc ntp_sec ntp_frac rtp_timestamp packet_count octet_count")
RtcpInfo = namedtuple("RtcpInfo", "sender_info rr_ssrc blocks blocks_dropped cname_ssrc cname "
                                  "bye_ssrcs bye_reason packets unknown_packets")
TelephoneEvent = namedtuple("TelephoneEvent", "event end volume duration")
DtmfRtpPacket = namedtuple("DtmfRtpPacket", "payload marker timestamp last")
DtmfRtpReport = namedtuple("DtmfRtpReport", "begin end event digit volume timestamp duration")
SdesCrypto = namedtuple("SdesCrypto", "tag suite key lifetime mki mki_len")

SRTP_SUITES = tuple(s.oh_srtp_suite_name(i).decode("ascii") for i in range(s.OH_SRTP_SUITE_COUNT))


cdef int _refuse(object error, str what, int status, int defect) except -1:
    """Raises error for a refused packet, naming the defect when there is one."""
    if status == OH_EBADPKT and defect != p.OH_PKT_OK:
        reason = p.oh_pkt_defect_str(defect).decode("ascii")
        raise error(f"{what}: {reason}", _DEFECTS[defect])
    check(status, error, what)
    return -1


cdef inline uint32_t _u32(object v, str name) except? 0xFFFFFFFF:
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{name} must be 0..4294967295, got {v}")
    return <uint32_t>v


cdef int _pt(object v, str name="payload_type") except -1:
    if not 0 <= v <= 127:
        raise ValueError(f"{name} must be 0..127, got {v}")
    return <int>v


# ---- RTP ----

@cython.final
@cython.freelist(16)
cdef class RtpPacket:
    """A parsed RTP packet (parse_rtp): header fields, CSRCs, payload without padding."""
    cdef readonly int payload_type
    cdef readonly bint marker
    cdef readonly int seq
    cdef readonly unsigned int timestamp
    cdef readonly unsigned int ssrc
    cdef readonly tuple csrc
    cdef readonly bytes payload
    cdef readonly bint padding
    cdef readonly bint extension
    cdef readonly object ext_profile  # int when extension, else None
    cdef readonly object ext_data     # bytes when extension, else None

    def __repr__(self):
        return (f"RtpPacket(payload_type={self.payload_type}, marker={self.marker}, seq={self.seq}, "
                f"timestamp={self.timestamp}, ssrc={self.ssrc:#010x}, csrc={self.csrc}, "
                f"payload=<{len(self.payload)} bytes>, padding={self.padding}, "
                f"extension={self.extension}, ext_profile={self.ext_profile})")


def parse_rtp(data):
    """Parses and validates one RTP packet (bytes-like) into an RtpPacket.

    Raises RtpError with .defect (PacketDefect) for a malformed packet.
    """
    cdef Borrowed view
    cdef p.oh_rtp_header h
    cdef p.oh_pkt_defect defect
    cdef int st
    cdef const char *buf
    cdef RtpPacket pkt = RtpPacket.__new__(RtpPacket)
    acquire_bytes(data, &view, "parse_rtp", "data")
    try:
        st = p.oh_rtp_parse(<const uint8_t *>view.buf, <size_t>view.len, &h, &defect)
        if st < 0:
            _refuse(RtpError, f"RTP packet of {view.len} bytes", st, defect)
        buf = <const char *>view.buf
        pkt.payload = PyBytes_FromStringAndSize(buf + h.payload_offset, h.payload_len)
        if h.extension:
            pkt.ext_data = PyBytes_FromStringAndSize(buf + h.ext_offset, h.ext_len)
            pkt.ext_profile = h.ext_profile
    finally:
        release(&view)
    pkt.csrc = tuple([h.csrc[i] for i in range(h.csrc_count)]) if h.csrc_count else ()
    pkt.payload_type = h.payload_type
    pkt.marker = h.marker
    pkt.seq = h.seq
    pkt.timestamp = h.timestamp
    pkt.ssrc = h.ssrc
    pkt.padding = h.padding
    pkt.extension = h.extension
    return pkt


def build_rtp(payload, *, int payload_type, int seq, timestamp, ssrc, bint marker=False,
              csrc=()):
    """Serialises an RTP packet (no padding or extension) with up to 15 CSRCs."""
    _pt(payload_type)
    if not 0 <= seq <= 0xFFFF:
        raise ValueError(f"seq must be 0..65535, got {seq}")
    cdef p.oh_rtp_header h
    memset(&h, 0, sizeof(h))
    h.payload_type = <uint8_t>payload_type
    h.seq = <uint16_t>seq
    h.timestamp = _u32(timestamp, "timestamp")
    h.ssrc = _u32(ssrc, "ssrc")
    h.marker = marker
    csrc = tuple(csrc)
    if len(csrc) > 15:
        raise ValueError(f"an RTP packet holds at most 15 CSRCs, got {len(csrc)}")
    for i, c in enumerate(csrc):
        h.csrc[i] = _u32(c, "csrc")
    h.csrc_count = <uint8_t>len(csrc)
    cdef Borrowed view
    acquire_bytes(payload, &view, "build_rtp", "payload")
    try:
        n = 12 + 4 * h.csrc_count + view.len
        out = PyBytes_FromStringAndSize(NULL, n)
        w = p.oh_rtp_write(&h, <const uint8_t *>view.buf, <size_t>view.len,
                           <uint8_t *>PyBytes_AS_STRING(out), <size_t>n)
    finally:
        release(&view)
    if w < 0:
        check(w, RtpError, f"build_rtp of a {view.len}-byte payload")
    return out


def is_rtcp(data):
    """RFC 5761 rtcp-mux: True when a packet on a shared port is RTCP (second byte 192..223)."""
    cdef Borrowed view
    acquire_bytes(data, &view, "is_rtcp", "data")
    res = p.oh_rtp_is_rtcp(<const uint8_t *>view.buf, <size_t>view.len)
    release(&view)
    return bool(res)


def pt_conflicts_with_rtcp(int payload_type):
    """True for payload types 64..95, which must not be used with rtcp-mux (RFC 5761 4)."""
    return bool(p.oh_rtp_pt_conflicts_with_rtcp(payload_type))


cdef class RtpSender:
    """Numbers the packets of one outgoing RTP stream.

    RtpSender(ssrc, payload_type, clock_rate=8000, seed=0): the initial
    sequence number and timestamp derive from seed (pass a random one).
    """
    cdef p.oh_rtp_sender *_s
    cdef bytearray _buf

    def __cinit__(self, ssrc, int payload_type, int clock_rate=8000, seed=0):
        cdef p.oh_rtp_sender_config cfg
        p.oh_rtp_sender_config_default(&cfg)
        cfg.ssrc = _u32(ssrc, "ssrc")
        cfg.payload_type = _pt(payload_type)
        if not 1000 <= clock_rate <= 192000:
            raise ValueError(f"clock_rate must be 1000..192000 Hz, got {clock_rate}")
        cfg.clock_rate = clock_rate
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be 0..2**64-1, got {seed}")
        cfg.seed = <uint64_t>seed
        check(p.oh_rtp_sender_create(&cfg, &self._s), ValueError, "RTP sender create")

    def __dealloc__(self):
        p.oh_rtp_sender_destroy(self._s)

    cdef bytes _emit(self, object payload, int pt, uint32_t ts_or_samples, bint marker, bint event):
        cdef Borrowed view
        acquire_bytes(payload, &view, "RtpSender", "payload")
        cdef Py_ssize_t cap = 12 + view.len
        out = PyBytes_FromStringAndSize(NULL, cap)
        try:
            if event:
                n = p.oh_rtp_sender_write_event(self._s, pt, ts_or_samples, marker,
                                                <const uint8_t *>view.buf, <size_t>view.len,
                                                <uint8_t *>PyBytes_AS_STRING(out), <size_t>cap)
            else:
                n = p.oh_rtp_sender_write(self._s, <const uint8_t *>view.buf, <size_t>view.len,
                                          ts_or_samples, marker,
                                          <uint8_t *>PyBytes_AS_STRING(out), <size_t>cap)
        finally:
            release(&view)
        if n < 0:
            check(n, RtpError, "RtpSender write")
        return out

    def write(self, payload, samples, bint talkspurt_start=False):
        """One audio packet holding `samples` timestamp units; marked on a talkspurt start."""
        return self._emit(payload, 0, _u32(samples, "samples"), talkspurt_start, False)

    def write_event(self, payload, int payload_type, timestamp, bint marker=False):
        """A packet with its own payload type and timestamp (RFC 4733); the media clock stays."""
        return self._emit(payload, _pt(payload_type), _u32(timestamp, "timestamp"), marker, True)

    def skip(self, samples):
        """Advances the media timestamp without sending (silence, DTX, a DTMF event)."""
        p.oh_rtp_sender_skip(self._s, _u32(samples, "samples"))

    def reset(self, seed):
        """Restarts the numbering from a new seed (same SSRC)."""
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be 0..2**64-1, got {seed}")
        p.oh_rtp_sender_reset(self._s, <uint64_t>seed)

    @property
    def timestamp(self):
        """The timestamp the next audio packet will carry."""
        cdef p.oh_rtp_sender_stats st
        p.oh_rtp_sender_get_stats(self._s, &st)
        return st.timestamp

    def stats(self):
        """ssrc, next_seq, timestamp, packets and octets sent (for the SR)."""
        cdef p.oh_rtp_sender_stats st
        p.oh_rtp_sender_get_stats(self._s, &st)
        return {"ssrc": st.ssrc, "next_seq": st.next_seq, "timestamp": st.timestamp,
                "packets": st.packets, "octets": st.octets}


cdef class RtpSource:
    """Receiver-side statistics of one SSRC (RFC 3550 A.1 sequence validation,
    A.8 jitter, A.3 loss).

    RtpSource(clock_rate=8000, *, min_sequential=2, max_dropout=3000, max_misorder=100).
    Arrival times are ms on the receiver's clock.
    """
    cdef p.oh_rtp_source *_src
    cdef readonly int clock_rate

    def __cinit__(self, int clock_rate=8000, *, int min_sequential=2, int max_dropout=3000,
                  int max_misorder=100):
        if not 1000 <= clock_rate <= 192000:
            raise ValueError(f"clock_rate must be 1000..192000 Hz, got {clock_rate}")
        if not 1 <= min_sequential <= 100:
            raise ValueError(f"min_sequential must be 1..100, got {min_sequential}")
        if max_dropout < 1 or max_misorder < 0 or max_dropout + max_misorder >= 65536:
            raise ValueError(f"need max_dropout >= 1, max_misorder >= 0 and their sum < 65536, "
                             f"got {max_dropout} and {max_misorder}")
        cdef p.oh_rtp_source_config cfg
        p.oh_rtp_source_config_default(&cfg)
        cfg.clock_rate = clock_rate
        cfg.min_sequential = min_sequential
        cfg.max_dropout = max_dropout
        cfg.max_misorder = max_misorder
        check(p.oh_rtp_source_create(&cfg, &self._src), ValueError, "RTP source create")
        self.clock_rate = clock_rate

    def __dealloc__(self):
        p.oh_rtp_source_destroy(self._src)

    def update(self, long long seq, long long ssrc, long long timestamp, double arrival_ms):
        """Feeds one packet's header fields; returns its SeqVerdict.

        Raises RtpError for a packet of another SSRC (reset() to follow it).
        """
        if seq < 0 or seq > 0xFFFF:
            raise ValueError(f"seq must be 0..65535, got {seq}")
        if ssrc < 0 or ssrc > 0xFFFFFFFF:
            raise ValueError(f"ssrc must be 0..4294967295, got {ssrc}")
        if timestamp < 0 or timestamp > 0xFFFFFFFF:
            raise ValueError(f"timestamp must be 0..4294967295, got {timestamp}")
        if not isfinite(arrival_ms):
            raise ValueError(f"arrival_ms must be finite, got {arrival_ms}")
        cdef int v = p.oh_rtp_source_update(self._src, <uint16_t>seq, <uint32_t>ssrc,
                                            <uint32_t>timestamp, arrival_ms)
        if v < 0:
            if v == OH_ESTATE:
                raise RtpError(f"RtpSource: packet from SSRC {ssrc:#010x}, not the one latched "
                               f"(call reset() to follow a new source)")
            check(v, RtpError, "RtpSource.update")
        return _VERDICTS[v]

    def on_sr(self, ntp_sec, ntp_frac, double arrival_ms):
        """Remembers the last sender report (for LSR/DLSR in report())."""
        p.oh_rtp_source_on_sr(self._src, _u32(ntp_sec, "ntp_sec"), _u32(ntp_frac, "ntp_frac"),
                              arrival_ms)

    def report(self, double now_ms):
        """A ReportBlock as of now_ms; starts a new fraction-lost interval."""
        cdef r.oh_rtcp_report_block rb
        st = r.oh_rtp_source_report(self._src, now_ms, &rb)
        if st < 0:
            if st == OH_ESTATE:
                raise RtpError("RtpSource.report: no valid packet received yet")
            check(st, RtpError, "RtpSource.report")
        return _block_tuple(&rb)

    def stats(self):
        """Counters and jitter: see oh_rtp_source_stats in oh_rtp.h."""
        cdef p.oh_rtp_source_stats st
        p.oh_rtp_source_get_stats(self._src, &st)
        return {"ssrc": st.ssrc, "valid": bool(st.valid), "received": st.received,
                "expected": st.expected, "cumulative_lost": st.cumulative_lost,
                "extended_max_seq": st.extended_max_seq, "cycles": st.cycles,
                "jitter": st.jitter, "jitter_ms": st.jitter_ms,
                "fraction_lost": st.last_fraction_lost, "bad_seq": st.bad_seq,
                "probation_drops": st.probation_drops, "resyncs": st.resyncs}

    def reset(self):
        """Forgets the source; the next packet starts probation."""
        p.oh_rtp_source_reset(self._src)


# ---- RTCP ----

cdef object _block_tuple(const r.oh_rtcp_report_block *b):
    return ReportBlock(b.ssrc, b.fraction_lost, b.cumulative_lost, b.extended_max_seq, b.jitter,
                       b.lsr, b.dlsr)


cdef int _fill_blocks(object blocks, r.oh_rtcp_report_block *out) except -1:
    blocks = list(blocks)
    if len(blocks) > 31:
        raise ValueError(f"an SR/RR holds at most 31 report blocks, got {len(blocks)}")
    for i, b in enumerate(blocks):
        b = ReportBlock(*b)
        out[i].ssrc = _u32(b.ssrc, "report block ssrc")
        if not 0 <= b.fraction_lost <= 255:
            raise ValueError(f"fraction_lost must be 0..255, got {b.fraction_lost}")
        out[i].fraction_lost = b.fraction_lost
        if not -0x800000 <= b.cumulative_lost <= 0x7FFFFF:
            raise ValueError(f"cumulative_lost must fit 24 bits signed, got {b.cumulative_lost}")
        out[i].cumulative_lost = b.cumulative_lost
        out[i].extended_max_seq = _u32(b.extended_max_seq, "extended_max_seq")
        out[i].jitter = _u32(b.jitter, "jitter")
        out[i].lsr = _u32(b.lsr, "lsr")
        out[i].dlsr = _u32(b.dlsr, "dlsr")
    return len(blocks)


def rtcp_sr(sender_info, blocks=()):
    """A sender report: SenderInfo (or a 6-tuple) and up to 31 ReportBlocks."""
    si = SenderInfo(*sender_info)
    cdef r.oh_rtcp_sender_info c_si
    c_si.ssrc = _u32(si.ssrc, "ssrc")
    c_si.ntp_sec = _u32(si.ntp_sec, "ntp_sec")
    c_si.ntp_frac = _u32(si.ntp_frac, "ntp_frac")
    c_si.rtp_timestamp = _u32(si.rtp_timestamp, "rtp_timestamp")
    c_si.packet_count = _u32(si.packet_count & 0xFFFFFFFF, "packet_count")
    c_si.octet_count = _u32(si.octet_count & 0xFFFFFFFF, "octet_count")
    cdef r.oh_rtcp_report_block rb[31]
    n = _fill_blocks(blocks, rb)
    cdef uint8_t buf[28 + 24 * 31]
    w = r.oh_rtcp_write_sr(&c_si, rb, n, buf, sizeof(buf))
    check(w, RtpError, "rtcp_sr")
    return PyBytes_FromStringAndSize(<char *>buf, w)


def rtcp_rr(ssrc, blocks=()):
    """A receiver report from ssrc with up to 31 ReportBlocks."""
    cdef r.oh_rtcp_report_block rb[31]
    n = _fill_blocks(blocks, rb)
    cdef uint8_t buf[8 + 24 * 31]
    w = r.oh_rtcp_write_rr(_u32(ssrc, "ssrc"), rb, n, buf, sizeof(buf))
    check(w, RtpError, "rtcp_rr")
    return PyBytes_FromStringAndSize(<char *>buf, w)


def rtcp_sdes_cname(ssrc, cname):
    """An SDES packet with one CNAME (str, UTF-8, 1..255 bytes)."""
    raw = cname.encode("utf-8") if isinstance(cname, str) else bytes(cname)
    if not 1 <= len(raw) <= 255:
        raise ValueError(f"CNAME must be 1..255 bytes, got {len(raw)}")
    cdef uint8_t buf[4 + 4 + 2 + 255 + 4]
    w = r.oh_rtcp_write_sdes_cname(_u32(ssrc, "ssrc"), raw, len(raw), buf, sizeof(buf))
    check(w, RtpError, "rtcp_sdes_cname")
    return PyBytes_FromStringAndSize(<char *>buf, w)


def rtcp_bye(ssrcs, reason=""):
    """A BYE for 1..31 SSRCs with an optional reason (str, UTF-8, up to 255 bytes)."""
    ssrcs = list(ssrcs)
    if not 1 <= len(ssrcs) <= 31:
        raise ValueError(f"a BYE names 1..31 SSRCs, got {len(ssrcs)}")
    raw = reason.encode("utf-8") if isinstance(reason, str) else bytes(reason)
    if len(raw) > 255:
        raise ValueError(f"BYE reason must be at most 255 bytes, got {len(raw)}")
    cdef uint32_t c_ssrcs[31]
    for i, v in enumerate(ssrcs):
        c_ssrcs[i] = _u32(v, "ssrc")
    cdef uint8_t buf[4 + 4 * 31 + 260]
    w = r.oh_rtcp_write_bye(c_ssrcs, len(ssrcs), raw, len(raw), buf, sizeof(buf))
    check(w, RtpError, "rtcp_bye")
    return PyBytes_FromStringAndSize(<char *>buf, w)


def parse_rtcp(data):
    """Parses a compound RTCP packet into an RtcpInfo; RtpError (.defect) when malformed.

    cname and bye_reason are bytes (RFC 3550 says UTF-8, peers do not always comply).
    """
    cdef Borrowed view
    cdef r.oh_rtcp_info info
    cdef p.oh_pkt_defect defect
    cdef int st
    acquire_bytes(data, &view, "parse_rtcp", "data")
    try:
        st = r.oh_rtcp_parse(<const uint8_t *>view.buf, <size_t>view.len, &info, &defect)
        if st < 0:
            _refuse(RtpError, f"RTCP packet of {view.len} bytes", st, defect)
    finally:
        release(&view)
    si = None
    if info.has_sr:
        si = SenderInfo(info.sr.ssrc, info.sr.ntp_sec, info.sr.ntp_frac, info.sr.rtp_timestamp,
                        info.sr.packet_count, info.sr.octet_count)
    blocks = [_block_tuple(&info.blocks[i]) for i in range(info.block_count)]
    cname = PyBytes_FromStringAndSize(info.cname, info.cname_len) if info.has_cname else None
    reason = PyBytes_FromStringAndSize(info.reason, info.reason_len) if info.has_bye else None
    return RtcpInfo(si, info.rr_ssrc if info.has_rr else None, blocks, info.blocks_dropped,
                    info.cname_ssrc if info.has_cname else None, cname,
                    [info.bye_ssrcs[i] for i in range(info.bye_count)] if info.has_bye else None,
                    reason, info.packets, info.unknown_packets)


def ntp_from_unix_ms(double unix_ms):
    """(seconds since 1900, 32-bit fraction) of a Unix time in ms."""
    cdef uint32_t sec, frac
    r.oh_ntp_from_unix_ms(unix_ms, &sec, &frac)
    return sec, frac


def ntp_middle(ntp_sec, ntp_frac):
    """The middle 32 bits of an NTP timestamp (the LSR of a report block)."""
    return r.oh_ntp_middle(_u32(ntp_sec, "ntp_sec"), _u32(ntp_frac, "ntp_frac"))


def rtcp_rtt_ms(arrival_middle, lsr, dlsr):
    """Round-trip time in ms from a report block (RFC 3550 6.4.1): A - LSR - DLSR.

    arrival_middle is ntp_middle() of the time the block arrived. RtpError when
    lsr is 0 (no SR of ours reached the peer) or the result is negative.
    """
    cdef double rtt
    st = r.oh_rtcp_rtt(_u32(arrival_middle, "arrival_middle"), _u32(lsr, "lsr"),
                       _u32(dlsr, "dlsr"), &rtt)
    if st == OH_ESTATE:
        raise RtpError("no RTT: the report block's LSR is 0 (the peer has no SR from us yet)")
    if st == OH_EBADPKT:
        raise RtpError("no RTT: A - LSR - DLSR is negative (the peer's DLSR is inconsistent)")
    check(st, RtpError, "rtcp_rtt_ms")
    return rtt


# ---- RFC 4733 ----

cdef int _event_code(object event) except -1:
    if isinstance(event, str):
        code = d.oh_dtmf_rtp_event_code(ord(event[0])) if len(event) == 1 and ord(event[0]) < 128 else -1
        if code < 0:
            raise ValueError(f"DTMF digit must be one of 0-9 * # A-D, got {event!r}")
        return code
    if not 0 <= event <= 255:
        raise ValueError(f"telephone-event code must be 0..255, got {event}")
    return event


def encode_telephone_event(event, *, bint end=False, int volume=10, int duration=0):
    """An RFC 4733 payload (4 bytes); event is a digit character or a code 0..255."""
    cdef d.oh_dtmf_rtp_event ev
    ev.event = <uint8_t>_event_code(event)
    if not 0 <= volume <= 63:
        raise ValueError(f"volume must be 0..63 (-dBm0), got {volume}")
    if not 0 <= duration <= 0xFFFF:
        raise ValueError(f"duration must be 0..65535 timestamp units, got {duration}")
    ev.end = end
    ev.volume = <uint8_t>volume
    ev.duration = <uint16_t>duration
    cdef uint8_t out[4]
    check(d.oh_dtmf_rtp_encode(&ev, out), RtpError, "encode_telephone_event")
    return PyBytes_FromStringAndSize(<char *>out, 4)


def decode_telephone_event(payload):
    """A TelephoneEvent from a 4-byte payload; RtpError (.defect) otherwise."""
    cdef Borrowed view
    cdef d.oh_dtmf_rtp_event ev
    cdef p.oh_pkt_defect defect
    acquire_bytes(payload, &view, "decode_telephone_event", "payload")
    st = d.oh_dtmf_rtp_decode(<const uint8_t *>view.buf, <size_t>view.len, &ev, &defect)
    release(&view)
    if st < 0:
        _refuse(RtpError, f"telephone-event payload of {view.len} bytes (must be 4)", st, defect)
    return TelephoneEvent(ev.event, bool(ev.end), ev.volume, ev.duration)


cdef object _digit(int event):
    cdef char c = d.oh_dtmf_rtp_digit(event)
    return chr(c) if c else None


cdef class DtmfRtpSender:
    """RFC 4733 sender: start() an event, poll() once per ptime for the packet to send.

    DtmfRtpSender(clock_rate=8000, ptime_ms=20, volume=10, end_repeats=3).
    poll() gives a DtmfRtpPacket (payload, marker, timestamp, last) or None when idle;
    send it with RtpSender.write_event.
    """
    cdef d.oh_dtmf_rtp_sender *_tx

    def __cinit__(self, int clock_rate=8000, int ptime_ms=20, int volume=10, int end_repeats=3):
        if not 1000 <= clock_rate <= 48000:
            raise ValueError(f"clock_rate must be 1000..48000 Hz, got {clock_rate}")
        if not 10 <= ptime_ms <= 100 or clock_rate * ptime_ms % 1000:
            raise ValueError(f"ptime_ms must be 10..100 and a whole number of samples, got {ptime_ms}")
        if not 0 <= volume <= 63:
            raise ValueError(f"volume must be 0..63 (-dBm0), got {volume}")
        if not 1 <= end_repeats <= 10:
            raise ValueError(f"end_repeats must be 1..10, got {end_repeats}")
        cdef d.oh_dtmf_rtp_sender_config cfg
        d.oh_dtmf_rtp_sender_config_default(&cfg)
        cfg.clock_rate = clock_rate
        cfg.ptime_ms = ptime_ms
        cfg.volume = volume
        cfg.end_repeats = end_repeats
        check(d.oh_dtmf_rtp_sender_create(&cfg, &self._tx), ValueError, "DTMF RTP sender create")

    def __dealloc__(self):
        d.oh_dtmf_rtp_sender_destroy(self._tx)

    def start(self, event, int duration_ms, timestamp):
        """Begins an event (digit or code) lasting duration_ms at RTP timestamp `timestamp`."""
        code = _event_code(event)
        st = d.oh_dtmf_rtp_sender_start(self._tx, code, duration_ms, _u32(timestamp, "timestamp"))
        if st == OH_ESTATE:
            raise RtpError("DtmfRtpSender.start: an event is still being sent (poll until idle)")
        if st == OH_EINVAL:
            raise ValueError(f"DTMF event duration {duration_ms} ms must be at least one ptime "
                             f"and at most 65535 timestamp units")
        check(st, RtpError, "DtmfRtpSender.start")

    def poll(self):
        """The packet of this tick, or None when idle."""
        cdef d.oh_dtmf_rtp_packet pk
        if not d.oh_dtmf_rtp_sender_poll(self._tx, &pk):
            return None
        return DtmfRtpPacket(PyBytes_FromStringAndSize(<char *>pk.payload, 4), bool(pk.marker),
                             pk.timestamp, bool(pk.last))

    @property
    def busy(self):
        return bool(d.oh_dtmf_rtp_sender_busy(self._tx))

    def reset(self):
        d.oh_dtmf_rtp_sender_reset(self._tx)


cdef class DtmfRtpReceiver:
    """RFC 4733 receiver: put() each telephone-event packet; each event is
    reported once as begun and once as ended, whatever the retransmissions,
    loss and reordering. put() returns a DtmfRtpReport or None."""
    cdef d.oh_dtmf_rtp_receiver *_rx

    def __cinit__(self):
        check(d.oh_dtmf_rtp_receiver_create(&self._rx), ValueError, "DTMF RTP receiver create")

    def __dealloc__(self):
        d.oh_dtmf_rtp_receiver_destroy(self._rx)

    def put(self, timestamp, payload):
        cdef Borrowed view
        cdef d.oh_dtmf_rtp_report rep
        cdef p.oh_pkt_defect defect
        cdef uint32_t ts = _u32(timestamp, "timestamp")
        acquire_bytes(payload, &view, "DtmfRtpReceiver", "payload")
        f = d.oh_dtmf_rtp_receiver_put(self._rx, ts, <const uint8_t *>view.buf, <size_t>view.len,
                                       &rep, &defect)
        release(&view)
        if f < 0:
            _refuse(RtpError, f"telephone-event payload of {view.len} bytes (must be 4)", f, defect)
        if f == 0:
            return None
        return DtmfRtpReport(bool(f & d.OH_DTMF_RTP_BEGIN), bool(f & d.OH_DTMF_RTP_END), rep.event,
                             _digit(rep.event), rep.volume, rep.timestamp, rep.duration)

    def reset(self):
        d.oh_dtmf_rtp_receiver_reset(self._rx)


# ---- SRTP ----

cdef int _suite(object suite) except -1:
    raw = suite.encode("ascii", "replace") if isinstance(suite, str) else b""
    code = s.oh_srtp_suite_from_name(raw, len(raw))
    if code < 0:
        raise SrtpError(f"unknown SRTP suite {suite!r}; supported: {', '.join(SRTP_SUITES)}")
    return code


def srtp_key_length(suite):
    """key||salt length of a suite in bytes (30 for AES_CM_*, 28 for AEAD_AES_128_GCM)."""
    return s.oh_srtp_key_len(_suite(suite))


def srtp_random_key(suite):
    """Fresh key||salt for a suite from the operating system's CSPRNG."""
    n = s.oh_srtp_key_len(_suite(suite))
    cdef uint8_t buf[30]
    check(s.oh_srtp_random_key(buf, n), SrtpError, "srtp_random_key")
    return PyBytes_FromStringAndSize(<char *>buf, n)


def parse_sdes_crypto(text):
    """Parses an SDP a=crypto value ("1 AES_CM_128_HMAC_SHA1_80 inline:...") into SdesCrypto."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if raw.startswith(b"a=crypto:"):
        raw = raw[9:]
    cdef s.oh_srtp_sdes sd
    st = s.oh_srtp_sdes_parse(raw, len(raw), &sd)
    if st == OH_EUNSUPPORTED:
        raise SrtpError(f"a=crypto {text!r}: unsupported (suites {', '.join(SRTP_SUITES)}, "
                        f"one inline key, no session parameters)")
    if st < 0:
        raise SrtpError(f"a=crypto {text!r}: malformed (expected '<tag> <suite> "
                        f"inline:<base64 key||salt>[|lifetime][|MKI:length]')")
    return SdesCrypto(sd.tag, SRTP_SUITES[sd.suite],
                      PyBytes_FromStringAndSize(<char *>sd.key, s.oh_srtp_key_len(sd.suite)),
                      sd.lifetime or None, sd.mki if sd.mki_len else None, sd.mki_len or None)


def format_sdes_crypto(int tag, suite, key, lifetime=None, mki=None, mki_len=None):
    """An a=crypto value (without "a=crypto:") for key||salt."""
    cdef s.oh_srtp_sdes sd
    memset(&sd, 0, sizeof(sd))
    if not 1 <= tag <= 999999999:
        raise ValueError(f"tag must be 1..999999999, got {tag}")
    sd.tag = tag
    sd.suite = <s.oh_srtp_suite>_suite(suite)
    key = bytes(key)
    if len(key) != s.oh_srtp_key_len(sd.suite):
        raise SrtpError(f"{suite} needs {s.oh_srtp_key_len(sd.suite)} bytes of key||salt, got {len(key)}")
    memcpy(sd.key, <const char *>key, len(key))
    if lifetime is not None:
        if not 1 <= lifetime <= 2**48:
            raise ValueError(f"lifetime must be 1..2**48 packets, got {lifetime}")
        sd.lifetime = lifetime
    if (mki is None) != (mki_len is None):
        raise ValueError("give both mki and mki_len, or neither")
    if mki is not None:
        if not 1 <= mki_len <= 128:
            raise ValueError(f"mki_len must be 1..128, got {mki_len}")
        sd.mki = _u32(mki, "mki")
        sd.mki_len = mki_len
    cdef char buf[200]
    n = s.oh_srtp_sdes_format(&sd, buf, sizeof(buf))
    check(n, SrtpError, "format_sdes_crypto")
    return buf[:n].decode("ascii")


cdef class SrtpSession:
    """SRTP/SRTCP for one stream (libsrtp2), replay protection on.

    SrtpSession(suite, local_key, remote_key, *, replay_window=1024): local_key
    protects what we send, remote_key unprotects what the peer sends (key||salt
    bytes, see srtp_key_length). protect*/unprotect* return new bytes;
    refused packets raise SrtpError with .defect AUTH_FAIL, REPLAY, TRUNCATED...
    """
    cdef s.oh_srtp *_s
    cdef uint8_t *_buf
    cdef readonly str suite

    def __cinit__(self, suite, local_key, remote_key, *, unsigned replay_window=1024):
        cdef s.oh_srtp_config cfg
        s.oh_srtp_config_default(&cfg)
        code = _suite(suite)
        n = s.oh_srtp_key_len(code)
        local_key = bytes(local_key)
        remote_key = bytes(remote_key)
        for name, k in (("local_key", local_key), ("remote_key", remote_key)):
            if len(k) != n:
                raise SrtpError(f"{suite} {name} must be {n} bytes of key||salt, got {len(k)}")
        if not 64 <= replay_window <= 32768:
            raise ValueError(f"replay_window must be 64..32768 packets, got {replay_window}")
        cfg.suite = <s.oh_srtp_suite>code
        memcpy(cfg.local_key, <const char *>local_key, n)
        memcpy(cfg.remote_key, <const char *>remote_key, n)
        cfg.replay_window = replay_window
        st = s.oh_srtp_create(&cfg, &self._s)
        memset(&cfg, 0, sizeof(cfg))
        if st == OH_EUNSUPPORTED:
            raise SrtpError(f"{suite} is not available in this libsrtp2 build")
        check(st, SrtpError, f"SRTP {suite} session create")
        self._buf = <uint8_t *>malloc(65536 + s.OH_SRTP_MAX_OVERHEAD)
        if self._buf == NULL:
            raise MemoryError("SRTP session buffer")
        self.suite = suite

    def __dealloc__(self):
        s.oh_srtp_destroy(self._s)
        free(self._buf)

    cdef bytes _run(self, object data, int rtcp, bint protect):
        cdef Borrowed view
        cdef p.oh_pkt_defect defect
        cdef int n
        acquire_bytes(data, &view, "SrtpSession", "packet")
        try:
            if view.len > 65536:
                raise SrtpError(f"packet of {view.len} bytes is larger than UDP allows")
            if protect:
                with nogil:
                    if rtcp:
                        n = s.oh_srtp_protect_rtcp(self._s, <const uint8_t *>view.buf, <size_t>view.len,
                                                   self._buf, 65536 + s.OH_SRTP_MAX_OVERHEAD, &defect)
                    else:
                        n = s.oh_srtp_protect(self._s, <const uint8_t *>view.buf, <size_t>view.len,
                                              self._buf, 65536 + s.OH_SRTP_MAX_OVERHEAD, &defect)
            else:
                memcpy(self._buf, view.buf, view.len)
                with nogil:
                    if rtcp:
                        n = s.oh_srtp_unprotect_rtcp(self._s, self._buf, <size_t>view.len, &defect)
                    else:
                        n = s.oh_srtp_unprotect(self._s, self._buf, <size_t>view.len, &defect)
        finally:
            release(&view)
        if n < 0:
            what = ("SRTCP" if rtcp else "SRTP") + (" protect" if protect else " unprotect")
            _refuse(SrtpError, f"{what} of {view.len} bytes", n, defect)
        return PyBytes_FromStringAndSize(<char *>self._buf, n)

    def protect(self, rtp):
        """An RTP packet in, the SRTP packet out."""
        return self._run(rtp, 0, True)

    def unprotect(self, srtp):
        """An SRTP packet in, the RTP packet out (authenticated, not replayed)."""
        return self._run(srtp, 0, False)

    def protect_rtcp(self, rtcp):
        return self._run(rtcp, 1, True)

    def unprotect_rtcp(self, srtcp):
        return self._run(srtcp, 1, False)
