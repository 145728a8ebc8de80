"""SDP (RFC 8866) parsing and serialisation and RFC 3264 offer/answer, sans I/O.

    sdp = parse_sdp(body)                 # SessionDescription, or SdpError(line, reason)
    str(sdp) / bytes(sdp)                 # the wire form, CRLF line ends

    oa = OfferAnswer(MediaCapabilities(address="192.0.2.10", port=40000))
    answer, media = oa.receive_offer(sdp)  # NegotiationError -> answer 488
    offer = oa.create_offer(hold=True); media = oa.receive_answer(parse_sdp(reply))
"""
from offhook.errors import NegotiationError, SdpError
from offhook.sdp.attributes import Crypto, Fmtp, Rtcp, RtpMap
from offhook.sdp.crypto import SRTP_SUITES
from offhook.sdp.negotiate import (
    MediaCapabilities,
    MediaUpdate,
    NegotiatedMedia,
    OfferAnswer,
    answer_direction,
    hold_direction,
    intersect_directions,
    media_update,
    offerer_direction,
    reverse_direction,
    same_sdp_version,
)
from offhook.sdp.parse import MAX_LINE_LENGTH, MAX_LINES, MAX_MEDIA, MAX_SDP_BYTES, parse_sdp
from offhook.sdp.session import (
    DIRECTIONS,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

__all__ = [
    "DIRECTIONS",
    "MAX_LINES",
    "MAX_LINE_LENGTH",
    "MAX_MEDIA",
    "MAX_SDP_BYTES",
    "SRTP_SUITES",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Crypto",
    "Direction",
    "Fmtp",
    "MediaCapabilities",
    "MediaDescription",
    "MediaUpdate",
    "NegotiatedMedia",
    "NegotiationError",
    "OfferAnswer",
    "Origin",
    "Rtcp",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "Timing",
    "answer_direction",
    "hold_direction",
    "intersect_directions",
    "media_update",
    "offerer_direction",
    "parse_sdp",
    "reverse_direction",
    "same_sdp_version",
]
