"""A MOS estimate for a live call from its RTP/RTCP statistics: the ITU-T G.107 E-model, simplified.

    R = 93.2 - Id - Ie_eff                 (G.107 defaults for Ro - Is and A = 0)
    MOS = 1 + 0.035 R + 7e-6 R (R - 60) (100 - R)      (1 <= MOS <= 4.5; 1 for R <= 0)

- Delay impairment Id from the one-way mouth-to-ear delay d in ms, as Cole & Rosenbluth
  ("Voice over IP performance monitoring", ACM CCR 2001) fit G.107:
  Id = 0.024 d + 0.11 (d - 177.3) when d > 177.3. d is estimated as RTT/2 (RTCP
  LSR/DLSR) + the playout buffer's current delay + one packet time (packetisation)
  + 2 x interarrival jitter when the playout delay is not known.
- Equipment/loss impairment (G.107 §7.2): Ie_eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl)
  with random loss (BurstR = 1); Ie and Bpl per codec from G.113 Appendix I
  (G.711 with PLC: Ie 0, Bpl 25.1; G.722: 0, 25 — scored on the narrowband scale;
  Opus: 0, 20 — no G.113 entry, a conservative estimate).
- Ppl is the worse of the two directions: what we lost receiving (RTP sequence
  numbers) and what the peer's RTCP reports say it lost of ours.

Known limits: the narrowband scale under-rates wideband calls (a perfect G.722 call
scores 4.4, not the 4.5+ of G.107.1's wideband scale); no burst-loss ratio; echo
and noise terms at their defaults.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CallQuality", "mos_from_r", "quality_from_stats", "r_factor"]

_CODEC_IMPAIRMENT: dict[str, tuple[float, float]] = {
    "PCMU": (0.0, 25.1), "PCMA": (0.0, 25.1), "G722": (0.0, 25.0), "opus": (0.0, 20.0),
}


def r_factor(delay_ms: float, loss_percent: float, codec: str = "PCMU") -> float:
    ie, bpl = _CODEC_IMPAIRMENT.get(codec, (10.0, 10.0))
    d = max(0.0, delay_ms)
    idd = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = min(100.0, max(0.0, loss_percent))
    ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl)
    return 93.2 - idd - ie_eff


def mos_from_r(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return min(4.5, 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r))


@dataclass(frozen=True)
class CallQuality:
    mos: float
    r: float
    delay_ms: float
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None


def quality_from_stats(stats: Mapping[str, Any], codec: str = "PCMU", ptime: int = 20) -> CallQuality | None:
    """The estimate from MediaStream.stats(); None before any packet arrived."""
    if not stats.get("packets_received"):
        return None
    expected = int(stats.get("expected") or 0)
    lost = max(0, int(stats.get("lost") or 0))
    rx_loss = 100.0 * lost / expected if expected > 0 else 0.0
    rtcp: Mapping[str, Any] = stats.get("rtcp") or {}
    tx_loss = 100.0 * float(rtcp.get("peer_fraction_lost") or 0.0)
    loss = max(rx_loss, tx_loss)
    jitter = float(stats.get("jitter_ms") or 0.0)
    rtt = rtcp.get("rtt_ms")
    playout: Mapping[str, Any] = stats.get("playout") or {}
    buffer_ms = float(playout.get("current_delay_ms") or 0.0)
    delay = (float(rtt) / 2 if rtt is not None else 0.0) + ptime + (buffer_ms or 2 * jitter)
    r = r_factor(delay, loss, codec)
    return CallQuality(mos_from_r(r), r, delay, loss, jitter, None if rtt is None else float(rtt))
