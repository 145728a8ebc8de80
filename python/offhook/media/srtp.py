"""SDES keying (RFC 4568) for an engine stream: MediaEngine.add_stream(srtp=SrtpParams(...)).

An SDP offer/answer with a=crypto gives each side one suite and two inline
keys: the one it sends with (its own a=crypto line) and the one its peer
sends with (the peer's line). SrtpParams holds exactly that, with keys as
the base64 text of RFC 4568's "inline:" parameter (key||salt: 30 bytes for
the AES_CM suites, 28 for AEAD_AES_128_GCM).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from offhook._rtp import SRTP_SUITES, parse_sdes_crypto, srtp_key_length, srtp_random_key
from offhook.errors import SrtpError

__all__ = ["SrtpParams", "new_srtp_key"]


def new_srtp_key(suite: str) -> str:
    """A fresh base64 key||salt for suite from the OS's CSPRNG (an "inline:" value)."""
    return base64.b64encode(srtp_random_key(suite)).decode("ascii")


def _decode(suite: str, role: str, key: str | bytes) -> bytes:
    if isinstance(key, bytes):
        raw = key
    elif isinstance(key, str):
        text = key.removeprefix("inline:").split("|", 1)[0]
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise SrtpError(f"SRTP {role} key {key!r} is not base64 (RFC 4568 inline key||salt)") from None
    else:
        raise SrtpError(f"SRTP {role} key must be a base64 str or bytes, got {type(key).__name__}")
    need = srtp_key_length(suite)
    if len(raw) != need:
        raise SrtpError(f"SRTP {role} key for {suite} must be {need} bytes of key||salt, got {len(raw)}")
    return raw


@dataclass(frozen=True)
class SrtpParams:
    """suite: "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32" or "AEAD_AES_128_GCM";
    local_key protects what this stream sends, remote_key unprotects what it receives.
    Keys are base64 key||salt (an "inline:" prefix and "|lifetime" suffix are accepted)
    or the raw bytes. Bad values raise SrtpError (a ValueError) here, not in add_stream."""

    suite: str
    local_key: str | bytes
    remote_key: str | bytes

    def __post_init__(self) -> None:
        if self.suite not in SRTP_SUITES:
            raise SrtpError(f"unknown SRTP suite {self.suite!r}; supported: {', '.join(SRTP_SUITES)}")
        self.keys()

    def keys(self) -> tuple[bytes, bytes]:
        """(local, remote) key||salt bytes."""
        return (_decode(self.suite, "local", self.local_key), _decode(self.suite, "remote", self.remote_key))

    @classmethod
    def from_sdes(cls, local_crypto: str, remote_crypto: str) -> SrtpParams:
        """From the a=crypto value we sent and the one the peer answered (same suite)."""
        mine, theirs = parse_sdes_crypto(local_crypto), parse_sdes_crypto(remote_crypto)
        if mine.suite != theirs.suite:
            raise SrtpError(f"a=crypto suites differ: ours {mine.suite}, the peer's {theirs.suite}")
        return cls(mine.suite, mine.key, theirs.key)
