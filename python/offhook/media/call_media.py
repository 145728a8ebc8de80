"""One call's audio: the agreed SDP (NegotiatedMedia) applied to a MediaEngine stream.

The stream is created on the RTP port our SDP announced when the first agreement
comes (the answer to our offer, or the offer we answered), with the negotiated
codec, payload type, DTMF payload type and direction. Later agreements (re-INVITE:
hold, resume, a new address) update it in place; a codec or payload-type change
re-creates it on the same port, since the engine cannot switch codecs mid-stream.
SRTP keys are not applied yet: the engine has no SRTP (offer srtp="off").
"""
from __future__ import annotations

import os
from pathlib import Path

from offhook._media import MediaEngine, MediaStream
from offhook.errors import MediaError
from offhook.sdp import NegotiatedMedia

__all__ = ["CallMedia"]


class CallMedia:
    """Owns at most one stream of `engine`; `play`/`record` are WAV paths applied to it."""

    def __init__(self, engine: MediaEngine, local: tuple[str, int], *,
                 play: str | os.PathLike[str] | None = None,
                 record: str | os.PathLike[str] | None = None) -> None:
        self.engine = engine
        self.local = local
        self.play = Path(play) if play is not None else None
        self.record = Path(record) if record is not None else None
        self.stream: MediaStream | None = None
        self.media: NegotiatedMedia | None = None

    def apply(self, media: NegotiatedMedia) -> None:
        if media.secure:
            raise MediaError("the call agreed SRTP but the media engine has no SRTP yet")
        old = self.media
        self.media = media
        if self.stream is not None and old is not None and (
                old.codec, old.payload_type, old.dtmf_payload_type) == (
                media.codec, media.payload_type, media.dtmf_payload_type):
            self.stream.update(remote=media.remote, direction=media.direction)
            return
        if self.stream is not None:
            self.stream.close()
        dtmf = media.dtmf_payload_type
        self.stream = self.engine.add_stream(
            local=self.local, remote=media.remote, codec=media.codec,
            payload_type=media.payload_type, direction=media.direction,
            dtmf_payload_type=dtmf if dtmf != media.payload_type else None)
        if self.record is not None:
            self.stream.record_wav(self.record)
        if self.play is not None:
            self.stream.play_wav(self.play)

    @property
    def played(self) -> bool:
        """True once the WAV given to play has been sent to its end."""
        return self.stream is not None and bool(self.stream.stats().get("source_done"))

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
