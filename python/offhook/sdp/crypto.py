"""SDES (RFC 4568) crypto suites offhook knows and their inline keys.

The table gives each suite's master key + salt length; an inline key is accepted only
when it is valid base64 of exactly that length, without an MKI (offhook uses one key
per direction and does not re-key by MKI).  Keys are made from a caller-supplied
random source so tests can be deterministic; by default secrets.token_bytes.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from offhook.errors import SdpError
from offhook.sdp.attributes import Crypto

# suite -> master key length + master salt length, in bytes (RFC 4568 §6.2, RFC 6188, RFC 7714).
SRTP_SUITES: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": 30,
    "AES_CM_128_HMAC_SHA1_32": 30,
    "AES_192_CM_HMAC_SHA1_80": 38,
    "AES_192_CM_HMAC_SHA1_32": 38,
    "AES_256_CM_HMAC_SHA1_80": 46,
    "AES_256_CM_HMAC_SHA1_32": 46,
    "AEAD_AES_128_GCM": 28,
    "AEAD_AES_256_GCM": 44,
}

KeySource = Callable[[int], bytes]


def check_suite(suite: str) -> str:
    if suite not in SRTP_SUITES:
        raise SdpError(f"unknown SRTP crypto suite {suite!r}; offhook knows {', '.join(SRTP_SUITES)}")
    return suite


def new_crypto(tag: int, suite: str, key_source: KeySource) -> Crypto:
    """An a=crypto line with a fresh key for this suite."""
    length = SRTP_SUITES[check_suite(suite)]
    key = key_source(length)
    if len(key) != length:
        raise SdpError(f"key source gave {len(key)} bytes for {suite}, which needs {length}")
    return Crypto(tag, suite, "inline:" + base64.b64encode(key).decode("ascii"))


def usable_key(crypto: Crypto) -> bytes | None:
    """The master key || salt of a crypto line offhook can use, else None (unknown suite,
    several keys, an MKI, bad base64, wrong length, or mandatory session parameters)."""
    length = SRTP_SUITES.get(crypto.suite)
    keys = crypto.inline_keys
    if length is None or len(keys) != 1 or crypto.has_mki:
        return None
    # RFC 4568 §6.3: an unknown session parameter makes the line unusable unless it is
    # marked optional with a leading '-'.
    if any(not param.startswith("-") for param in crypto.session_params):
        return None
    try:
        key = base64.b64decode(keys[0], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == length else None
