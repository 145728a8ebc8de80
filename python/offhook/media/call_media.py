"""One call's audio: the agreed SDP (NegotiatedMedia) applied to a MediaEngine stream.

The stream is created on the RTP port our SDP announced when the first agreement
comes (the answer to our offer, or the offer we answered), with the negotiated
codec, payload type, DTMF payload type, direction, RTCP mode (rtcp-mux, or RTCP on
our RTP port + 1 to the peer's a=rtcp / RTP port + 1 when it did not agree mux) and
SRTP keys (RFC 4568 SDES: we protect with the key of our a=crypto line, unprotect
with the peer's). Later
agreements (re-INVITE: hold, resume, a new address, another codec) update it in
place between two ticks; new SRTP keys or another telephone-event payload type
re-create it on the same port (fresh SRTP contexts, as RFC 4568 §7.1.4 asks of a
re-keyed session).
"""
from __future__ import annotations

import os
from pathlib import Path

from offhook._media import MAX_SEND_PTIME, MIN_SEND_PTIME, MediaEngine, MediaStream
from offhook.errors import MediaError
from offhook.media.srtp import SrtpParams
from offhook.sdp import NegotiatedMedia
from offhook.sdp.negotiate import CN_PAYLOAD_TYPE

__all__ = ["CallMedia"]


class CallMedia:
    """Owns at most one stream of `engine`; `play`/`record` are WAV paths applied to it."""

    def __init__(self, engine: MediaEngine, local: tuple[str, int], *,
                 play: str | os.PathLike[str] | None = None,
                 record: str | os.PathLike[str] | None = None,
                 silence_suppression: bool = False) -> None:
        self.engine = engine
        self.silence_suppression = silence_suppression
        self.local = local
        self.play = Path(play) if play is not None else None
        self.record = Path(record) if record is not None else None
        self.stream: MediaStream | None = None
        self.media: NegotiatedMedia | None = None

    def apply(self, media: NegotiatedMedia) -> None:
        old = self.media
        self.media = media
        if self.stream is not None and old is not None and _srtp(old) == _srtp(media) and (
                old.dtmf_payload_type == media.dtmf_payload_type) and (
                _comfort_noise(old) == _comfort_noise(media)) and (
                self._send_ptime(old) == self._send_ptime(media)):
            if (old.codec, old.payload_type) == (media.codec, media.payload_type):
                self.stream.update(remote=media.remote, direction=media.direction,
                                   rtcp_mux=media.rtcp_mux, remote_rtcp=media.remote_rtcp)
            else:
                self.stream.update(remote=media.remote, direction=media.direction,
                                   codec=media.codec, payload_type=media.payload_type,
                                   rtcp_mux=media.rtcp_mux, remote_rtcp=media.remote_rtcp)
            return
        if self.stream is not None:
            self.stream.close()
        dtmf = media.dtmf_payload_type
        self.stream = self.engine.add_stream(
            local=self.local, remote=media.remote, codec=media.codec,
            payload_type=media.payload_type, direction=media.direction, srtp=_srtp(media),
            dtmf_payload_type=dtmf if dtmf != media.payload_type else None,
            rtcp_mux=media.rtcp_mux, remote_rtcp=media.remote_rtcp, cn_payload_type=_comfort_noise(media),
            vad=self.silence_suppression and media.cn_payload_type is not None,
            send_ptime=self._send_ptime(media))
        if self.record is not None:
            self.stream.record_wav(self.record)
        if self.play is not None:
            self.stream.play_wav(self.play)

    def _send_ptime(self, media: NegotiatedMedia) -> int:
        """The peer's a=ptime (capped by its a=maxptime) as the engine can send it: the largest
        of MIN_SEND_PTIME and the multiples of the tick up to MAX_SEND_PTIME that is not
        longer, else the shortest. a=ptime is a preference (RFC 4566): 30 ms on a 20 ms tick
        is sent as 20; a=maxptime is a limit, which only a peer's below 10 ms breaks."""
        tick = self.engine.ptime
        choices: list[int] = sorted({MIN_SEND_PTIME, *range(tick, MAX_SEND_PTIME + 1, tick)})
        fitting = [ms for ms in choices if ms <= media.ptime]
        return fitting[-1] if fitting else choices[0]

    @property
    def played(self) -> bool:
        """True once the WAV given to play has been sent to its end."""
        return self.stream is not None and bool(self.stream.stats().get("source_done"))

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


def _comfort_noise(media: NegotiatedMedia) -> int | None:
    """The payload type taken as RFC 3389 comfort noise: the agreed one, else CN's static 13
    (peers with silence suppression send it unasked), unless the call uses it otherwise."""
    cn = CN_PAYLOAD_TYPE if media.cn_payload_type is None else media.cn_payload_type
    return None if cn in (media.payload_type, media.dtmf_payload_type) else cn


def _srtp(media: NegotiatedMedia) -> SrtpParams | None:
    if media.srtp_suite is None:
        return None
    if media.srtp_local_key is None or media.srtp_remote_key is None:
        raise MediaError(f"the call agreed {media.srtp_suite} without both SRTP keys")
    return SrtpParams(media.srtp_suite, media.srtp_local_key, media.srtp_remote_key)
