"""Stub for the compiled module offhook._rtp (engine/_rtp.pyx)."""
from collections.abc import Iterable
from enum import IntEnum
from typing import NamedTuple

Bytes = bytes | bytearray | memoryview

SRTP_SUITES: tuple[str, ...]

class PacketDefect(IntEnum):
    OK = 0
    TRUNCATED = 1
    BAD_VERSION = 2
    BAD_PADDING = 3
    CSRC_OVERRUN = 4
    EXT_OVERRUN = 5
    BAD_LENGTH = 6
    BAD_TYPE = 7
    BAD_ITEM = 8
    AUTH_FAIL = 9
    REPLAY = 10
    UNKNOWN_SSRC = 11

class SeqVerdict(IntEnum):
    VALID = 0
    PROBATION = 1
    BAD = 2
    RESYNC = 3

class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    csrc: tuple[int, ...]
    payload: bytes
    padding: bool
    extension: bool
    ext_profile: int | None
    ext_data: bytes | None

class ReportBlock(NamedTuple):
    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    extended_max_seq: int
    jitter: int
    lsr: int
    dlsr: int

class SenderInfo(NamedTuple):
    ssrc: int
    ntp_sec: int
    ntp_frac: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int

class RtcpInfo(NamedTuple):
    sender_info: SenderInfo | None
    rr_ssrc: int | None
    blocks: list[ReportBlock]
    blocks_dropped: int
    cname_ssrc: int | None
    cname: bytes | None
    bye_ssrcs: list[int] | None
    bye_reason: bytes | None
    packets: int
    unknown_packets: int

class TelephoneEvent(NamedTuple):
    event: int
    end: bool
    volume: int
    duration: int

class DtmfRtpPacket(NamedTuple):
    payload: bytes
    marker: bool
    timestamp: int
    last: bool

class DtmfRtpReport(NamedTuple):
    begin: bool
    end: bool
    event: int
    digit: str | None
    volume: int
    timestamp: int
    duration: int

class SdesCrypto(NamedTuple):
    tag: int
    suite: str
    key: bytes
    lifetime: int | None
    mki: int | None
    mki_len: int | None

def parse_rtp(data: Bytes) -> RtpPacket: ...
def build_rtp(payload: Bytes, *, payload_type: int, seq: int, timestamp: int, ssrc: int,
              marker: bool = False, csrc: Iterable[int] = ()) -> bytes: ...
def is_rtcp(data: Bytes) -> bool: ...
def pt_conflicts_with_rtcp(payload_type: int) -> bool: ...

class RtpSender:
    def __init__(self, ssrc: int, payload_type: int, clock_rate: int = 8000, seed: int = 0) -> None: ...
    def write(self, payload: Bytes, samples: int, talkspurt_start: bool = False) -> bytes: ...
    def write_event(self, payload: Bytes, payload_type: int, timestamp: int,
                    marker: bool = False) -> bytes: ...
    def skip(self, samples: int) -> None: ...
    def reset(self, seed: int) -> None: ...
    @property
    def timestamp(self) -> int: ...
    def stats(self) -> dict[str, int]: ...

class RtpSource:
    clock_rate: int
    def __init__(self, clock_rate: int = 8000, *, min_sequential: int = 2, max_dropout: int = 3000,
                 max_misorder: int = 100) -> None: ...
    def update(self, seq: int, ssrc: int, timestamp: int, arrival_ms: float) -> SeqVerdict: ...
    def on_sr(self, ntp_sec: int, ntp_frac: int, arrival_ms: float) -> None: ...
    def report(self, now_ms: float) -> ReportBlock: ...
    def stats(self) -> dict[str, int | float | bool]: ...
    def reset(self) -> None: ...

def rtcp_sr(sender_info: SenderInfo | tuple[int, int, int, int, int, int],
            blocks: Iterable[ReportBlock] = ()) -> bytes: ...
def rtcp_rr(ssrc: int, blocks: Iterable[ReportBlock] = ()) -> bytes: ...
def rtcp_sdes_cname(ssrc: int, cname: str | bytes) -> bytes: ...
def rtcp_bye(ssrcs: Iterable[int], reason: str | bytes = "") -> bytes: ...
def parse_rtcp(data: Bytes) -> RtcpInfo: ...
def ntp_from_unix_ms(unix_ms: float) -> tuple[int, int]: ...
def ntp_middle(ntp_sec: int, ntp_frac: int) -> int: ...
def rtcp_rtt_ms(arrival_middle: int, lsr: int, dlsr: int) -> float: ...

def encode_telephone_event(event: str | int, *, end: bool = False, volume: int = 10,
                           duration: int = 0) -> bytes: ...
def decode_telephone_event(payload: Bytes) -> TelephoneEvent: ...

class DtmfRtpSender:
    def __init__(self, clock_rate: int = 8000, ptime_ms: int = 20, volume: int = 10,
                 end_repeats: int = 3) -> None: ...
    def start(self, event: str | int, duration_ms: int, timestamp: int) -> None: ...
    def poll(self) -> DtmfRtpPacket | None: ...
    @property
    def busy(self) -> bool: ...
    def reset(self) -> None: ...

class DtmfRtpReceiver:
    def __init__(self) -> None: ...
    def put(self, timestamp: int, payload: Bytes) -> DtmfRtpReport | None: ...
    def reset(self) -> None: ...

def srtp_key_length(suite: str) -> int: ...
def srtp_random_key(suite: str) -> bytes: ...
def parse_sdes_crypto(text: str | bytes) -> SdesCrypto: ...
def format_sdes_crypto(tag: int, suite: str, key: bytes, lifetime: int | None = None,
                       mki: int | None = None, mki_len: int | None = None) -> str: ...

class SrtpSession:
    suite: str
    def __init__(self, suite: str, local_key: bytes, remote_key: bytes, *,
                 replay_window: int = 1024) -> None: ...
    def protect(self, rtp: Bytes) -> bytes: ...
    def unprotect(self, srtp: Bytes) -> bytes: ...
    def protect_rtcp(self, rtcp: Bytes) -> bytes: ...
    def unprotect_rtcp(self, srtcp: Bytes) -> bytes: ...
