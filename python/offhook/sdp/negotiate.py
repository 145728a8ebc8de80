"""RFC 3264 offer/answer for one audio stream, sans I/O.

OfferAnswer keeps the state of one call's SDP exchanges: it builds offers from the
local MediaCapabilities, answers remote offers, processes the answer to its own offer,
and gives each agreed exchange as a NegotiatedMedia the media engine consumes.

Choices (RFC 3264 leaves them to the implementation):
- Codecs come from the registry offhook.media.codecs.CODECS.  Offers list them in the
  capabilities' order with their static payload types (PCMU 0, PCMA 8, G722 9) or
  fixed dynamic ones (opus 111, telephone-event/48000 110, telephone-event/8000 101);
  rtpmap lines are written for static types too.  G.722 is G722/8000: RFC 3551 keeps
  its RTP clock at 8000 although it samples at 16 kHz; a peer writing G722/16000 is
  understood as G.722 all the same (the RTP clock reported stays 8000).
- Answers keep the offer's payload type numbers and list the common codecs in the
  *offerer's* order by default (capabilities.prefer="offerer"); prefer="answerer"
  sorts them by our capabilities instead.  Dynamic types are matched by encoding name
  (case-insensitive), clock rate and channel count, never by number.  The first listed
  common codec is the one sent.
- telephone-event is answered for the clock rates of the answered codecs.  When the
  chosen codec's clock has no telephone-event but 8000 does (peers that offer opus with
  only telephone-event/8000), telephone-event/8000 is used: dtmf_clock_rate says so.
- Comfort noise (RFC 3389): offers list CN/8000 (static 13) next to 8 kHz-clock codecs
  (G.711, G.722), answers keep an offered CN/8000 when the chosen codec's clock is 8000
  (capabilities.comfort_noise).  We only receive it: the engine plays the pause a CN
  packet starts with the noise it describes; offhook itself sends no CN.
- Direction answers follow RFC 3264 §6.1: the answer is the offer's direction reversed,
  narrowed by local policy (capabilities.direction, minus "recv" while we hold).  An
  offer with c=0.0.0.0 (RFC 2543 hold) is read as an offerer that will not receive.
- Hold (RFC 3264 §8.4, RFC 6337): create_offer(hold=True) offers sendonly, or inactive when
  the stream was recvonly (the peer holds us) or our policy is recvonly (hold_direction());
  hold=False resumes.  We never send c=0.0.0.0 ourselves.
- Mid-call changes: media_update(before, after) says what a re-INVITE/UPDATE changed for
  the media engine: the arguments for MediaStream.update (remote address/port,
  direction, codec) and whether the stream must be re-created (payload types, SRTP keys,
  rtcp-mux, DTMF payload type).  same_sdp_version() spots an SDP the peer re-sent
  unchanged (same o= session id and version, RFC 3264 §8).
- o= keeps its session id; the version goes up by one with every new offer, and with
  an answer only when the answer differs from the SDP we sent before (RFC 3264 §8).
- Only the first acceptable audio m-line is used; every other m-line is answered with
  port 0, and the number and order of m-lines is kept, in answers and re-offers alike.
  Offers with no usable audio raise NegotiationError (status_code 488 for the SIP
  layer); a failed offer or answer leaves the agreed state as it was.
- SRTP (RFC 4568 SDES): policy "off" (RTP/AVP, no crypto; RTP/SAVP offers rejected),
  "optional" (RTP/AVP with a=crypto: best effort, answered with crypto when a usable
  line is offered), "required" (RTP/SAVP; offers without a usable crypto line rejected).
  One key per suite per OfferAnswer, reused by re-offers so a hold does not re-key.
"""
from __future__ import annotations

import copy
import ipaddress
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Literal

from offhook.errors import CodecError, NegotiationError, SdpError
from offhook.media.codecs import CODECS, CodecInfo, lookup
from offhook.sdp.attributes import Crypto, RtpMap
from offhook.sdp.crypto import SRTP_SUITES, KeySource, check_suite, new_crypto, usable_key
from offhook.sdp.session import (
    DIRECTIONS,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
)

SrtpPolicy = Literal["off", "optional", "required"]
CodecOrder = Literal["offerer", "answerer"]

TELEPHONE_EVENT = "telephone-event"
COMFORT_NOISE = "CN"
CN_PAYLOAD_TYPE = 13  # RFC 3551's static CN/8000
TELEPHONE_EVENT_FMTP = "0-16"
_DYNAMIC_PT = {("opus", 48000): 111, (TELEPHONE_EVENT, 48000): 110, (TELEPHONE_EVENT, 8000): 101}
# Static payload types (RFC 3551 table 4) read when an offer lists them without rtpmap.
_STATIC_PT = {0: ("PCMU", 8000, 1), 3: ("GSM", 8000, 1), 4: ("G723", 8000, 1), 8: ("PCMA", 8000, 1),
              9: ("G722", 8000, 1), 13: ("CN", 8000, 1), 18: ("G729", 8000, 1)}
_PROTOS = ("RTP/AVP", "RTP/SAVP")
_FLAGS: dict[str, tuple[bool, bool]] = {
    "sendrecv": (True, True), "sendonly": (True, False),
    "recvonly": (False, True), "inactive": (False, False),
}


def _direction(send: bool, recv: bool) -> Direction:
    return {(True, True): "sendrecv", (True, False): "sendonly",
            (False, True): "recvonly", (False, False): "inactive"}[(send, recv)]  # type: ignore[return-value]


def reverse_direction(direction: Direction) -> Direction:
    """The same stream seen from the other end: sendonly <-> recvonly."""
    send, recv = _FLAGS[direction]
    return _direction(recv, send)


def intersect_directions(first: Direction, second: Direction) -> Direction:
    """What both allow: sendrecv ∩ sendonly = sendonly, sendonly ∩ recvonly = inactive."""
    (send_a, recv_a), (send_b, recv_b) = _FLAGS[first], _FLAGS[second]
    return _direction(send_a and send_b, recv_a and recv_b)


def answer_direction(offered: Direction, policy: Direction = "sendrecv") -> Direction:
    """RFC 3264 §6.1: the answer to an offered direction under a local policy.

    sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive, and sendrecv ->
    whatever the policy allows; the policy can only narrow (a held side answers
    sendrecv with sendonly and sendonly with inactive)."""
    return intersect_directions(reverse_direction(offered), policy)


def _held(direction: Direction) -> Direction:
    send, _ = _FLAGS[direction]
    return _direction(send, False)


def hold_direction(current: Direction | None, policy: Direction = "sendrecv") -> Direction:
    """RFC 3264 §8.4: the direction to offer to put a stream on hold.

    `current` is the stream's agreed direction as we see it (None before any
    agreement): sendrecv -> sendonly, recvonly (the peer holds us) -> inactive,
    sendonly and inactive stay.  The local policy can only narrow it."""
    return intersect_directions(_held(policy), policy if current is None else current)


def offerer_direction(offered: Direction, answered: Direction) -> Direction:
    """Our stream direction after an exchange we offered: what we offered, narrowed by
    the answer seen from our side (we offered sendrecv, they answered recvonly -> we
    send only)."""
    return intersect_directions(reverse_direction(answered), offered)


@dataclass(frozen=True)
class MediaCapabilities:
    """What we can do: our RTP address and port and how we want the stream."""

    address: str                               # our RTP address, written in c= and o=
    port: int                                  # our RTP port, 1..65535
    codecs: tuple[str, ...] = ("opus", "G722", "PCMU", "PCMA")  # preference order
    telephone_event: bool = True               # offer/accept RFC 4733 DTMF events
    comfort_noise: bool = True                 # offer/accept RFC 3389 CN (received only)
    ptime: int = 20                            # packet time we want to receive, ms
    # the longest packet we take: offhook's engine stores G.711/G.722 packets of up to 64 ms
    # (512-byte slots) and drops longer ones, so the offer says so (None: not offered)
    maxptime: int | None = 60
    rtcp_mux: bool = True                      # RFC 5761
    rtcp_port: int | None = None               # a=rtcp (RFC 3605) when RTCP is not on port+1
    direction: Direction = "sendrecv"          # local policy when not on hold
    srtp: SrtpPolicy = "off"
    srtp_suites: tuple[str, ...] = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
    prefer: CodecOrder = "offerer"             # codec order in our answers
    username: str = "-"
    session_name: str = "offhook"

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise SdpError(f"our media address must be an IPv4 or IPv6 address, "
                           f"not {self.address!r}") from None
        for name, port in (("port", self.port), ("rtcp_port", self.rtcp_port)):
            if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                     or not 0 < port < 65536):
                raise SdpError(f"{name} must be 1..65535, not {port!r}")
        if not self.codecs:
            raise CodecError("MediaCapabilities needs at least one codec")
        object.__setattr__(self, "codecs", tuple(lookup(name).name for name in self.codecs))
        if len(set(self.codecs)) != len(self.codecs):
            raise CodecError(f"a codec is listed twice in {self.codecs}")
        for name, ms in (("ptime", self.ptime), ("maxptime", self.maxptime)):
            if ms is not None and (isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= 1000):
                raise SdpError(f"{name} must be 1..1000 ms, not {ms!r}")
        if self.direction not in DIRECTIONS:
            raise SdpError(f"direction must be one of {', '.join(DIRECTIONS)}, not {self.direction!r}")
        if self.srtp not in ("off", "optional", "required"):
            raise SdpError(f"srtp must be 'off', 'optional' or 'required', not {self.srtp!r}")
        if self.srtp != "off" and not self.srtp_suites:
            raise SdpError("SRTP is on but srtp_suites is empty")
        for suite in self.srtp_suites:
            check_suite(suite)
        if self.prefer not in ("offerer", "answerer"):
            raise SdpError(f"prefer must be 'offerer' or 'answerer', not {self.prefer!r}")
        if not self.username or any(ch.isspace() for ch in self.username + self.session_name):
            raise SdpError("username must be non-empty and neither it nor session_name may hold spaces")

    @property
    def addrtype(self) -> str:
        return "IP6" if ":" in self.address else "IP4"


@dataclass(frozen=True)
class NegotiatedMedia:
    """The agreed audio stream, as the media engine needs it (keys hidden from repr)."""

    codec: str                      # registry name: "PCMU", "PCMA", "G722", "opus"
    payload_type: int               # the payload type we send with
    recv_payload_type: int          # the payload type we expect to receive
    clock_rate: int                 # RTP timestamp clock (G722: 8000)
    sample_rate: int                # the codec's audio rate (G722: 16000)
    channels: int                   # as in rtpmap (opus: 2)
    fmtp: str                       # the peer's fmtp for the codec ("" when none)
    remote: tuple[str, int]         # where RTP goes
    remote_rtcp: tuple[str, int]    # where RTCP goes (== remote with rtcp-mux)
    direction: Direction            # as seen by us: "sendonly" means we send only
    held_by_remote: bool            # the peer will not receive (a=sendonly/inactive or c=0.0.0.0)
    ptime: int                      # ms per packet we send
    dtmf_payload_type: int | None   # RFC 4733 telephone-event, None: use SIP INFO
    dtmf_clock_rate: int | None
    rtcp_mux: bool
    srtp_suite: str | None = None
    srtp_local_key: bytes | None = field(default=None, repr=False)   # we encrypt with it
    srtp_remote_key: bytes | None = field(default=None, repr=False)  # we decrypt with it
    media_index: int = 0            # which m-line carries the stream
    cn_payload_type: int | None = None  # RFC 3389 comfort noise the peer may send, None: not agreed

    @property
    def secure(self) -> bool:
        return self.srtp_suite is not None

    def differences(self, other: NegotiatedMedia) -> tuple[str, ...]:
        """The names of the fields that differ from `other` (a re-INVITE's effect)."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name))


@dataclass(frozen=True)
class _Format:
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int
    fmtp: str
    codec: CodecInfo | None  # the registry codec it is, if any

    @property
    def is_dtmf(self) -> bool:
        return self.encoding.lower() == TELEPHONE_EVENT and self.clock_rate in (8000, 48000)

    @property
    def is_cn(self) -> bool:
        return self.encoding.lower() == COMFORT_NOISE.lower() and self.clock_rate == 8000

    def rtpmap(self) -> RtpMap:
        return RtpMap(self.payload_type, self.encoding, self.clock_rate,
                      None if self.channels == 1 else self.channels)


def _registry_codec(encoding: str, clock_rate: int, channels: int) -> CodecInfo | None:
    info = CODECS.get(encoding.lower())
    if info is None:
        return None
    if info.name == "G722":
        return info if clock_rate in (8000, 16000) and channels == 1 else None
    return info if (clock_rate, channels) == (info.clock_rate, info.sdp_channels) else None


def _formats(media: MediaDescription) -> Iterator[_Format]:
    rtpmaps, fmtps = media.rtpmaps, media.fmtps
    for pt in dict.fromkeys(media.payload_types):  # a built description may repeat one
        rtpmap = rtpmaps.get(pt)
        if rtpmap is not None:
            encoding, clock, channels = rtpmap.encoding, rtpmap.clock_rate, rtpmap.channel_count
        elif pt in _STATIC_PT:
            encoding, clock, channels = _STATIC_PT[pt]
        else:
            continue  # a dynamic type without rtpmap means nothing
        fmtp = fmtps.get(str(pt))
        yield _Format(pt, encoding, clock, channels, "" if fmtp is None else fmtp.parameters,
                      _registry_codec(encoding, clock, channels))


def _describe(formats: list[_Format]) -> str:
    return ", ".join(f"{f.encoding}/{f.clock_rate}" for f in formats
                     if not f.is_dtmf and not f.is_cn) or "no codecs"


def _rejected(media: MediaDescription) -> MediaDescription:
    return MediaDescription(media.media, 0, media.proto, list(media.formats) or ["0"])


class OfferAnswer:
    """The offer/answer state of one call (RFC 3264), sans I/O.

    create_offer() / receive_answer() when we offer; receive_offer() when the peer
    does; rollback() withdraws our pending offer (glare, rejected re-INVITE).
    `current` is the last agreed NegotiatedMedia; `local` / `remote` the last SDP sent
    and received.
    """

    def __init__(self, capabilities: MediaCapabilities, *, session_id: int | None = None,
                 key_source: KeySource = secrets.token_bytes) -> None:
        self.capabilities = capabilities
        sid = secrets.randbelow(2**62) + 1 if session_id is None else session_id
        if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
            raise SdpError(f"session_id must be a non-negative integer, not {session_id!r}")
        self._session_id = sid
        self._key_source = key_source
        self._keys: dict[str, Crypto] = {}
        self.holding = False
        self._holding_before = False
        self.local: SessionDescription | None = None
        self.remote: SessionDescription | None = None
        self.pending_offer: SessionDescription | None = None
        self.current: NegotiatedMedia | None = None
        self._layout: list[MediaDescription] = []
        self._audio_index = 0

    # -- our offers ---------------------------------------------------------------

    def create_offer(self, *, hold: bool | None = None) -> SessionDescription:
        """A new offer (initial, re-offer, hold with hold=True, resume with hold=False;
        None keeps the hold state).  The o= version goes up with every offer."""
        if self.pending_offer is not None:
            raise NegotiationError("an offer is already waiting for its answer; "
                                   "process the answer or rollback() first", status_code=491)
        self._holding_before = self.holding
        if hold is not None:
            self.holding = hold
        audio = self._offer_audio()
        if self.holding and self.current is not None:
            audio.set_direction(hold_direction(self.current.direction, self._policy()))
        if self._layout:
            media = [audio if i == self._audio_index else _rejected(m) for i, m in enumerate(self._layout)]
        else:
            media, self._audio_index = [audio], 0
        offer = self._session(media, new_offer=True)
        self.pending_offer = offer
        self.local = offer
        return copy.deepcopy(offer)

    def rollback(self) -> None:
        """Withdraw the pending offer: the agreed state (hold included) stays as it was."""
        if self.pending_offer is not None:
            self.holding = self._holding_before
        self.pending_offer = None

    def receive_answer(self, answer: SessionDescription) -> NegotiatedMedia:
        """The agreed stream from the answer to our pending offer (NegotiationError when
        the answer cannot be used; the caller then ends or re-negotiates the call)."""
        offer = self.pending_offer
        if offer is None:
            raise NegotiationError("an answer arrived but no offer of ours is pending")
        try:
            result = self._answered(offer, answer)
        except NegotiationError:
            self.rollback()
            raise
        self.pending_offer = None
        self.remote = answer
        self._layout = offer.media
        self.current = result
        return result

    def _answered(self, offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
        if len(answer.media) != len(offer.media):
            raise NegotiationError(f"the answer has {len(answer.media)} m-lines, our offer had "
                                   f"{len(offer.media)} (RFC 3264 §6 keeps them one to one)")
        index = self._audio_index
        ours, theirs = offer.media[index], answer.media[index]
        if theirs.media != "audio":
            raise NegotiationError(f"the answer has m={theirs.media} where our offer had m=audio")
        if theirs.port == 0:
            raise NegotiationError("the answer rejected our audio stream (port 0)")
        if theirs.proto != ours.proto:
            raise NegotiationError(f"the answer changed the transport from {ours.proto} to {theirs.proto}")
        offered = [f for f in _formats(ours) if f.codec is not None]
        answered = [f for f in _formats(theirs)
                    if f.codec is not None and any(o.codec is f.codec for o in offered)]
        if not answered:
            raise NegotiationError(f"the answer has none of the codecs we offered: it has "
                                   f"{_describe(list(_formats(theirs)))}")
        chosen = answered[0]
        recv_pt = next(o.payload_type for o in offered if o.codec is chosen.codec)
        event_clocks = {f.clock_rate for f in _formats(ours) if f.is_dtmf}
        dtmf = self._dtmf([f for f in _formats(theirs) if f.is_dtmf and f.clock_rate in event_clocks], chosen)
        suite, local_key, remote_key = self._answer_crypto(ours, theirs)
        direction = offerer_direction(offer.media_direction(ours), self._effective(answer, theirs))
        # CN on the payload type of our offer, if the answer kept it
        cn = self._comfort_noise([f for f in _formats(ours) if f.is_cn
                                  and any(a.is_cn for a in _formats(theirs))], chosen)
        return self._result(answer, theirs, index, chosen, recv_pt, dtmf, direction,
                            ours.rtcp_mux and theirs.rtcp_mux, suite, local_key, remote_key, cn)

    # -- the peer's offers --------------------------------------------------------

    def receive_offer(self, offer: SessionDescription) -> tuple[SessionDescription, NegotiatedMedia]:
        """Our answer to an offer and the stream it agrees, or NegotiationError (answer
        488) when no audio stream can be accepted; the agreed state is then unchanged."""
        if self.pending_offer is not None:
            raise NegotiationError("an offer crossed ours (glare): answer 491 and retry later",
                                   status_code=491)
        if self._layout and len(offer.media) < len(self._layout):
            raise NegotiationError(f"the offer has {len(offer.media)} m-lines, fewer than the "
                                   f"{len(self._layout)} of the session (RFC 3264 §8 forbids removing them)")
        reasons: list[str] = []
        media: list[MediaDescription] = []
        result: NegotiatedMedia | None = None
        for index, offered in enumerate(offer.media):
            if result is None and offered.media == "audio" and offered.port != 0:
                try:
                    accepted, result = self._accept(offer, offered, index)
                except NegotiationError as exc:
                    reasons.append(f"m-line {index + 1}: {exc}")
                else:
                    media.append(accepted)
                    continue
            media.append(_rejected(offered))
        if result is None:
            raise NegotiationError("no acceptable audio stream in the offer: "
                                   + ("; ".join(reasons) or "it has no audio m-line with a port"))
        answer = self._session(media, new_offer=False)
        self._audio_index = result.media_index
        self.local, self.remote, self._layout, self.current = answer, offer, answer.media, result
        return copy.deepcopy(answer), result

    def _accept(self, offer: SessionDescription, offered: MediaDescription,
                index: int) -> tuple[MediaDescription, NegotiatedMedia]:
        caps = self.capabilities
        if offered.proto not in _PROTOS:
            raise NegotiationError(f"transport {offered.proto} is not supported (offhook speaks RTP/AVP "
                                   "and RTP/SAVP)")
        formats = list(_formats(offered))
        common = [f for f in formats if f.codec is not None and f.codec.name in caps.codecs]
        if caps.prefer == "answerer":
            common.sort(key=lambda f: caps.codecs.index(f.codec.name if f.codec else ""))
        if not common:
            raise NegotiationError(f"no common codec: the offer has {_describe(formats)}; "
                                   f"offhook has {', '.join(caps.codecs)}")
        chosen = common[0]
        events = [f for f in formats if f.is_dtmf] if caps.telephone_event else []
        dtmf = self._dtmf(events, chosen)
        clocks = {f.clock_rate for f in common}
        answered_events = [f for f in events if f.clock_rate in clocks or f is dtmf]
        cn = self._comfort_noise(formats, chosen)
        crypto, local_key, remote_key = self._offer_crypto(offered)
        direction = answer_direction(self._effective(offer, offered), self._policy())

        extras = answered_events + ([cn] if cn else [])
        media = MediaDescription("audio", caps.port, offered.proto,
                                 [str(f.payload_type) for f in common + extras])
        for f in common:
            media.attributes.append(Attribute("rtpmap", str(f.rtpmap())))
            if f.codec is not None and f.codec.fmtp:
                media.attributes.append(Attribute("fmtp", f"{f.payload_type} {f.codec.fmtp}"))
        for f in answered_events:
            media.attributes.append(Attribute("rtpmap", str(f.rtpmap())))
            media.attributes.append(Attribute("fmtp", f"{f.payload_type} {TELEPHONE_EVENT_FMTP}"))
        if cn:
            media.attributes.append(Attribute("rtpmap", str(cn.rtpmap())))
        rtcp_mux = offered.rtcp_mux and caps.rtcp_mux
        self._common_attributes(media, rtcp_mux, [crypto] if crypto else [], direction)
        if offered.mid is not None:
            media.attributes.insert(0, Attribute("mid", offered.mid))
        result = self._result(offer, offered, index, chosen, chosen.payload_type, dtmf, direction, rtcp_mux,
                              crypto.suite if crypto else None, local_key, remote_key, cn)
        return media, result

    # -- shared pieces ------------------------------------------------------------

    def _policy(self) -> Direction:
        return _held(self.capabilities.direction) if self.holding else self.capabilities.direction

    @staticmethod
    def _effective(sdp: SessionDescription, media: MediaDescription) -> Direction:
        """The peer's direction for a stream; c=0.0.0.0 means it will not receive."""
        direction = sdp.media_direction(media)
        conn = sdp.media_connection(media)
        if conn is None:
            raise NegotiationError(f"m={media.media} has no connection address")
        return _held(direction) if conn.unspecified else direction

    def _comfort_noise(self, candidates: list[_Format], chosen: _Format) -> _Format | None:
        """The CN/8000 format among candidates to agree, when the chosen codec runs an
        8000 Hz RTP clock (RFC 3389 pairs CN with codecs of its clock)."""
        if not self.capabilities.comfort_noise or chosen.clock_rate != 8000:
            return None
        return next((f for f in candidates if f.is_cn), None)

    @staticmethod
    def _dtmf(events: list[_Format], chosen: _Format) -> _Format | None:
        same_clock = [f for f in events if f.clock_rate == chosen.clock_rate]
        fallback = [f for f in events if f.clock_rate == 8000]
        found = same_clock or fallback
        return found[0] if found else None

    def _key(self, suite: str, tag: int) -> Crypto:
        if suite not in self._keys:
            self._keys[suite] = new_crypto(tag, suite, self._key_source)
        kept = self._keys[suite]
        return Crypto(tag, suite, kept.key_params)

    def _offer_crypto(self, offered: MediaDescription) -> tuple[Crypto | None, bytes | None, bytes | None]:
        """Our crypto line answering an offer, with our key and the peer's."""
        caps = self.capabilities
        must = offered.proto == "RTP/SAVP" or caps.srtp == "required"
        if caps.srtp == "off":
            if offered.proto == "RTP/SAVP":
                raise NegotiationError("the offer requires SRTP (RTP/SAVP) and SRTP is off here")
            return None, None, None
        for line in offered.cryptos:
            remote_key = usable_key(line)
            if line.suite in caps.srtp_suites and remote_key is not None:
                ours = self._key(line.suite, line.tag)
                return ours, usable_key(ours), remote_key
        if must:
            suites = ", ".join(line.suite for line in offered.cryptos) or "none"
            raise NegotiationError(f"no usable SRTP crypto line (offered suites: {suites}; offhook "
                                   f"accepts {', '.join(caps.srtp_suites)})")
        return None, None, None

    def _answer_crypto(self, ours: MediaDescription,
                       theirs: MediaDescription) -> tuple[str | None, bytes | None, bytes | None]:
        offered = {line.tag: line for line in ours.cryptos}
        answered = theirs.cryptos
        if offered and answered:
            if len(answered) != 1:
                raise NegotiationError(f"the answer has {len(answered)} crypto lines; RFC 4568 wants one")
            line = answered[0]
            mine = offered.get(line.tag)
            remote_key = usable_key(line)
            if mine is None or mine.suite != line.suite or remote_key is None:
                raise NegotiationError(f"the answer's crypto line (tag {line.tag}, {line.suite}) does not "
                                       "match one we offered or has an unusable key")
            return line.suite, usable_key(mine), remote_key
        if ours.proto == "RTP/SAVP":
            raise NegotiationError("we required SRTP but the answer has no crypto line")
        return None, None, None

    def _offer_audio(self) -> MediaDescription:
        caps = self.capabilities
        codecs = [lookup(name) for name in caps.codecs]
        formats: list[_Format] = []
        for info in codecs:
            pt = info.payload_type
            if pt is None:
                pt = _DYNAMIC_PT[(info.name.lower(), info.clock_rate)]
            formats.append(_Format(pt, info.name, info.clock_rate, info.sdp_channels, info.fmtp, info))
        if caps.telephone_event:
            for clock in dict.fromkeys(info.clock_rate for info in codecs):
                pt = _DYNAMIC_PT.get((TELEPHONE_EVENT, clock))
                if pt is not None:
                    formats.append(_Format(pt, TELEPHONE_EVENT, clock, 1, TELEPHONE_EVENT_FMTP, None))
        if caps.comfort_noise and any(info.clock_rate == 8000 for info in codecs):
            formats.append(_Format(CN_PAYLOAD_TYPE, COMFORT_NOISE, 8000, 1, "", None))
        proto = "RTP/SAVP" if caps.srtp == "required" else "RTP/AVP"
        media = MediaDescription("audio", caps.port, proto, [str(f.payload_type) for f in formats])
        for f in formats:
            media.attributes.append(Attribute("rtpmap", str(f.rtpmap())))
            if f.fmtp:
                media.attributes.append(Attribute("fmtp", f"{f.payload_type} {f.fmtp}"))
        cryptos = ([self._key(suite, tag) for tag, suite in enumerate(caps.srtp_suites, 1)]
                   if caps.srtp != "off" else [])
        self._common_attributes(media, caps.rtcp_mux, cryptos, self._policy())
        return media

    def _common_attributes(self, media: MediaDescription, rtcp_mux: bool, cryptos: list[Crypto],
                           direction: Direction) -> None:
        caps = self.capabilities
        media.attributes.append(Attribute("ptime", str(caps.ptime)))
        if caps.maxptime is not None:
            media.attributes.append(Attribute("maxptime", str(caps.maxptime)))
        if caps.rtcp_port is not None:
            media.attributes.append(Attribute("rtcp", str(caps.rtcp_port)))
        if rtcp_mux:
            media.attributes.append(Attribute("rtcp-mux"))
        media.attributes.extend(Attribute("crypto", str(line)) for line in cryptos)
        media.attributes.append(Attribute(direction))

    def _session(self, media: list[MediaDescription], *, new_offer: bool) -> SessionDescription:
        caps = self.capabilities
        origin = Origin(caps.username, str(self._session_id), self._session_id, caps.address,
                        addrtype=caps.addrtype)
        sdp = SessionDescription(origin=origin, session_name=caps.session_name,
                                 connection=Connection(caps.address, caps.addrtype), media=media)
        previous = self.local
        if previous is not None:
            origin.version = previous.origin.version
            if new_offer or str(sdp) != str(previous):
                origin.version += 1
        return sdp

    def _result(self, sdp: SessionDescription, media: MediaDescription, index: int, chosen: _Format,
                recv_pt: int, dtmf: _Format | None, direction: Direction, rtcp_mux: bool,
                suite: str | None, local_key: bytes | None, remote_key: bytes | None,
                cn: _Format | None) -> NegotiatedMedia:
        conn = sdp.media_connection(media)
        if conn is None or chosen.codec is None:
            raise NegotiationError(f"m={media.media} has no connection address")
        remote = (conn.address, media.port)
        rtcp = media.rtcp
        if rtcp_mux:
            remote_rtcp = remote
        elif rtcp is not None:
            remote_rtcp = (rtcp.address or conn.address, rtcp.port)
        elif media.port < 65535:
            remote_rtcp = (conn.address, media.port + 1)
        else:
            raise NegotiationError("RTP on port 65535 leaves no port for RTCP (no a=rtcp or a=rtcp-mux)")
        # a=ptime is what the peer wants to receive; maxptime caps it.
        ptime = float(media.ptime or self.capabilities.ptime)
        if media.maxptime is not None:
            ptime = min(ptime, media.maxptime)
        effective = self._effective(sdp, media)
        return NegotiatedMedia(
            codec=chosen.codec.name, payload_type=chosen.payload_type, recv_payload_type=recv_pt,
            clock_rate=chosen.codec.clock_rate, sample_rate=chosen.codec.native_rate,
            channels=chosen.codec.sdp_channels, fmtp=chosen.fmtp, remote=remote, remote_rtcp=remote_rtcp,
            direction=direction, held_by_remote=not _FLAGS[effective][1], ptime=max(1, round(ptime)),
            dtmf_payload_type=None if dtmf is None else dtmf.payload_type,
            dtmf_clock_rate=None if dtmf is None else dtmf.clock_rate, rtcp_mux=rtcp_mux,
            srtp_suite=suite, srtp_local_key=local_key, srtp_remote_key=remote_key, media_index=index,
            cn_payload_type=None if cn is None else cn.payload_type)


_RESTART_FIELDS = ("payload_type", "recv_payload_type", "clock_rate", "sample_rate", "channels",
                   "fmtp", "ptime", "dtmf_payload_type", "dtmf_clock_rate", "rtcp_mux", "srtp_suite",
                   "srtp_local_key", "srtp_remote_key", "remote_rtcp", "cn_payload_type")


@dataclass(frozen=True)
class MediaUpdate:
    """What an offer/answer exchange changed for a running stream.

    `remote`, `direction`, `codec` are the MediaStream.update() arguments (None:
    unchanged); `restart` lists changes update() cannot make (the UA re-creates the
    stream with the new NegotiatedMedia); `changed` every differing field."""

    remote: tuple[str, int] | None = None
    direction: Direction | None = None
    codec: str | None = None
    restart: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def needed(self) -> bool:
        return bool(self.changed)

    def update_arguments(self) -> dict[str, object]:
        """Keyword arguments for MediaStream.update (only what changed)."""
        args: dict[str, object] = {}
        if self.remote is not None:
            args["remote"] = self.remote
        if self.direction is not None:
            args["direction"] = self.direction
        if self.codec is not None:
            args["codec"] = self.codec
        return args


def media_update(before: NegotiatedMedia | None, after: NegotiatedMedia) -> MediaUpdate:
    """Compare the stream agreed before a re-INVITE/UPDATE with the one after it
    (before None: a new stream, everything is new).  RTCP moving with RTP (muxed or on
    port+1) is not a restart; an explicit a=rtcp elsewhere is."""
    if before is None:
        return MediaUpdate(after.remote, after.direction, after.codec, (), ("new",))
    changed = before.differences(after)
    # held_by_remote follows direction and media_index is only bookkeeping
    restart = tuple(name for name in changed if name in _RESTART_FIELDS)
    host, port = after.remote
    if after.remote_rtcp in (after.remote, (host, port + 1)):
        restart = tuple(name for name in restart if name != "remote_rtcp")  # follows `remote`
    return MediaUpdate(
        remote=after.remote if "remote" in changed else None,
        direction=after.direction if "direction" in changed else None,
        codec=after.codec if "codec" in changed else None,
        restart=restart, changed=changed)


def same_sdp_version(before: SessionDescription | None, after: SessionDescription) -> bool:
    """True when `after` is the same SDP again: same o= username, session id, address and
    version (RFC 3264 §8: a changed SDP must carry a higher version)."""
    if before is None:
        return False
    a, b = before.origin, after.origin
    return ((a.username, a.session_id, a.address, a.version)
            == (b.username, b.session_id, b.address, b.version))


__all__ = [
    "SRTP_SUITES",
    "MediaCapabilities",
    "MediaUpdate",
    "NegotiatedMedia",
    "OfferAnswer",
    "answer_direction",
    "hold_direction",
    "intersect_directions",
    "media_update",
    "offerer_direction",
    "reverse_direction",
    "same_sdp_version",
]
