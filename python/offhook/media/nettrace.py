"""Deterministic network traces for judging jitter buffers, and the hindsight oracle.

One place for the models that tests/test_jitter.py and bench/bench_jitter.py
replay, so that the figures in the two always mean the same thing.

Time model
----------
The receiver's clock is the reference (milliseconds). The sender produces one
frame every ``frame_ms * (1 + drift)`` receiver-milliseconds while stamping it
``frame_ms`` of its own clock later than the previous one, so ``drift > 0`` is a
sender whose clock runs slow (its frames come less often than the receiver
plays them) and ``drift < 0`` one that runs fast. A frame's one-way delay is
``BASE_MS`` of propagation plus the model's jitter; it arrives at
``send + delay`` unless lost. The playout delay a buffer achieves for a frame is
``playout time - send time - BASE_MS``: the part of the mouth-to-ear delay that
the jitter buffer (together with the network's jitter) is responsible for.

Models (``TRACES``; each a function of the seed, so a name and a seed give the
same packets on every machine)
-----------------------------------------------------------------------------
- ``low``: Gaussian jitter, sigma 4 ms (clipped at 0).
- ``pareto``: heavy-tailed jitter, Pareto with shape 1.8 and scale 6 ms
  (``6 * (U**(-1/1.8) - 1)`` ms, capped at 1 s); a few packets come very late.
- ``spikes``: low jitter, plus every ~15 s a delay spike as on Wi-Fi roaming:
  the link stalls for S ms (S uniform in 300..500), the packets queued during
  the stall are released back to back when it ends (2 ms apart for 20 ms
  frames: the link's rate, so 1 ms apart for 10 ms frames), then the queue
  has drained and delays are low again.
- ``loss3``, ``loss10``: Gaussian jitter sigma 6 ms with Gilbert-Elliott bursty
  loss: a good state that loses nothing and a bad state that loses every
  packet, mean burst length 2.5 frames (P(bad->good) = 0.4), P(good->bad)
  set so that the average loss is 3 % or 10 %.
- ``reorder``: Gaussian jitter sigma 6 ms; 5 % of the packets are held back an
  extra 25..70 ms (so they arrive after one to three of their successors),
  1 % are duplicated (the copy arrives 0..30 ms after the original).
- ``drift``: low jitter with the sender's clock 0.1 % slow (``drift=+0.001``);
  ``drift_fast`` is the same with the sender 0.1 % fast.

The oracle
----------
``oracle_delay(trace)`` is the smallest *fixed* playout delay (every frame
played at send + BASE_MS + D) for which the frames that the network delivered
but too late for their playout time are at most 1 % of all frames: the
practical lower bound a causal buffer can aim for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

BASE_MS = 30.0      # propagation delay common to every model
LATE_LIMIT = 0.01   # the late-loss ratio the oracle (and the targets) allow


@dataclass(frozen=True)
class Trace:
    """Frames 0..n-1 as sent, and the packets the network delivers (sorted by arrival)."""
    name: str
    frame_ms: int
    clock_rate: int
    send_ms: np.ndarray        # float64[n]: when frame i was sent (receiver clock)
    arrival_ms: np.ndarray     # float64[n]: first arrival of frame i, NaN if lost
    packets: list[tuple[float, int]] = field(repr=False)  # (arrival_ms, frame index), arrival order

    @property
    def frames(self) -> int:
        return len(self.send_ms)

    @property
    def samples_per_frame(self) -> int:
        return self.clock_rate * self.frame_ms // 1000

    def delay_ms(self) -> np.ndarray:
        """Network delay beyond BASE_MS of each frame (NaN when lost)."""
        return np.asarray(self.arrival_ms - self.send_ms - BASE_MS)


def _gauss(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    return np.maximum(rng.normal(0.0, sigma, n), -sigma) + sigma  # >= 0, mean ~ sigma


def _gilbert_elliott(rng: np.random.Generator, n: int, loss: float, burst: float = 2.5) -> np.ndarray:
    r = 1.0 / burst
    p = loss * r / (1.0 - loss)
    lost = np.zeros(n, dtype=bool)
    bad = False
    u = rng.random(n)
    for i in range(n):
        bad = (u[i] >= r) if bad else (u[i] < p)
        lost[i] = bad
    return lost


def make_trace(name: str, seconds: float = 60.0, seed: int = 1, frame_ms: int = 20,
               clock_rate: int = 8000) -> Trace:
    """The trace of model `name` (see TRACES), `seconds` long, from `seed`."""
    if name not in TRACES:
        raise ValueError(f"unknown trace model {name!r}; known: {', '.join(TRACES)}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    n = int(seconds * 1000 / frame_ms)
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    drift = {"drift": 0.001, "drift_fast": -0.001}.get(name, 0.0)
    send = np.arange(n) * frame_ms * (1.0 + drift)
    lost = np.zeros(n, dtype=bool)
    dup_delay: dict[int, float] = {}
    if name in ("low", "drift", "drift_fast"):
        jitter = _gauss(rng, n, 4.0)
    elif name == "pareto":
        jitter = np.minimum(6.0 * (rng.random(n) ** (-1.0 / 1.8) - 1.0), 1000.0)
    elif name == "spikes":
        jitter = _gauss(rng, n, 4.0)
        t = 7000.0 + rng.uniform(0, 3000)
        while t < send[-1]:
            stall = rng.uniform(300.0, 500.0)
            idx = np.nonzero((send >= t) & (send < t + stall))[0]
            spacing = 2.0 * frame_ms / 20.0  # back to back at the link's rate when the stall ends
            for k, i in enumerate(idx):
                jitter[i] = max(jitter[i], t + stall + spacing * k - send[i])
            t += 15000.0 + rng.uniform(-2000, 2000)
    elif name in ("loss3", "loss10"):
        jitter = _gauss(rng, n, 6.0)
        lost = _gilbert_elliott(rng, n, 0.03 if name == "loss3" else 0.10)
    else:  # reorder
        jitter = _gauss(rng, n, 6.0)
        held = rng.random(n) < 0.05
        jitter[held] += rng.uniform(25.0, 70.0, int(held.sum()))
        for i in np.nonzero(rng.random(n) < 0.01)[0]:
            dup_delay[int(i)] = float(rng.uniform(0.0, 30.0))
    arrival = send + BASE_MS + jitter
    arrival[lost] = np.nan
    packets = [(float(arrival[i]), i) for i in range(n) if not lost[i]]
    packets += [(float(arrival[i]) + d, i) for i, d in dup_delay.items() if not lost[i]]
    packets.sort()
    return Trace(name, frame_ms, clock_rate, send, arrival, packets)


TRACES: dict[str, str] = {
    "low": "Gaussian jitter sigma 4 ms",
    "pareto": "Pareto jitter (shape 1.8, scale 6 ms)",
    "spikes": "300-500 ms delay spikes every ~15 s, then drain",
    "loss3": "Gilbert-Elliott bursty loss, 3 %",
    "loss10": "Gilbert-Elliott bursty loss, 10 %",
    "reorder": "5 % reordered by 25-70 ms, 1 % duplicated",
    "drift": "low jitter, sender clock 0.1 % slow",
    "drift_fast": "low jitter, sender clock 0.1 % fast",
}


def grid_oracle(trace: Trace, late_limit: float = LATE_LIMIT, tick_ms: int | None = None) -> Replay:
    """The oracle on the playout clock: the same fixed delay, but frames start on ticks.

    A buffer driven by a playout clock that ticks every frame_ms from the first
    arrival (as replay() does) can only start a frame on a tick, and a frame
    must have arrived by its tick. This is the smallest fixed delay D (frame i
    plays at the first tick >= send_i + BASE_MS + D) with late loss <=
    late_limit: what a perfect buffer on that clock reaches. Without drift,
    its delay is the continuous oracle's rounded up to the tick grid's phase.
    tick_ms (default: the frame length) is the playout clock's period.
    """
    t0 = trace.packets[0][0]
    tick = trace.frame_ms if tick_ms is None else tick_ms
    delivered = ~np.isnan(trace.arrival_ms)
    arrival = np.where(delivered, trace.arrival_ms, np.inf)

    def ticks_for(d: float) -> np.ndarray:
        return t0 + np.ceil((trace.send_ms + BASE_MS + d - t0) / tick) * tick

    # Frame i is on time iff D > b_i, b_i = (k_i - 1) tick + t0 - send_i - BASE_MS with k_i
    # the first tick at or after its arrival. Without drift the b_i of frames played on the
    # same tick phase are equal in exact arithmetic; rounding them to 1 ns and placing D
    # 1 ns above the chosen one keeps float noise from splitting such ties (a bisection
    # on D converged to a tie and mixed two grid delays, playing some frames a tick
    # earlier than any fixed delay allows).
    k = np.ceil((arrival[delivered] - t0) / tick - 1e-9)
    b = np.round((k - 1) * tick + t0 - trace.send_ms[delivered] - BASE_MS, 6)
    allowed = int(np.floor(late_limit * trace.frames))
    b_desc = np.sort(b)[::-1]
    hi = float(b_desc[allowed]) + 1e-6 if allowed < len(b_desc) else -BASE_MS - tick
    at = ticks_for(hi)
    ok = delivered & (arrival <= at)
    idx = np.nonzero(ok)[0]
    r = summarise(trace, idx, at[idx], "oracle on ticks")
    r.ticks = [(0, (i,)) if ok[i] else (1, ()) for i in range(trace.frames)]
    return r


def oracle_delay(trace: Trace, late_limit: float = LATE_LIMIT) -> float:
    """Smallest fixed playout delay (ms beyond BASE_MS) with late loss <= late_limit."""
    d = np.sort(trace.delay_ms()[~np.isnan(trace.arrival_ms)])
    allowed = int(np.floor(late_limit * trace.frames))
    if allowed >= len(d):
        return 0.0
    return float(max(d[len(d) - 1 - allowed], 0.0))


# --- replaying a trace through a buffer -------------------------------------------

class PacketBuffer(Protocol):
    """What replay() drives: the shape of offhook.engine.JitterBuffer.

    After a get() whose status is 3 (ACCELERATED) the second payload played in
    that tick is read from `last_skipped`; the payloads a tick plays after those
    (packets shorter than a tick, or of a length that is not whole ticks) from
    `last_more`, when the buffer has it.
    """
    def put(self, seq: int, timestamp: int, payload: bytes, arrival_ms: float,
            marker: bool = False) -> object: ...
    def get(self, now_ms: float) -> tuple[bytes | None, int]: ...


# JitterStatus values, kept numeric so that anchors can share replay()
NORMAL, LOST, LATE, ACCELERATED, CONTINUED = 0, 1, 2, 3, 6


@dataclass
class Replay:
    """What a buffer did with a trace: the frames played and when."""
    name: str
    frames: np.ndarray          # int64: frame index played, in play order
    play_ms: np.ndarray         # float64: when it started playing
    late_loss: float            # frames delivered by the network but never played / frames
    mean_delay_ms: float        # over played frames: play - send - BASE_MS
    p95_delay_ms: float
    delays_ms: np.ndarray       # per played frame, in play order
    statuses: dict[int, int] = field(default_factory=dict)  # status -> ticks
    ticks: list[tuple[int, tuple[int, ...]]] = field(default_factory=list, repr=False)
    # per tick: (status, frames played in it); status 0 normal, 3 two frames in one tick,
    # 1/2/4 concealment or stretch, 5 silence, 6 the previous frame goes on


def replay(trace: Trace, buffer: PacketBuffer, *, start_ms: float | None = None,
           ticks: int | None = None, tick_ms: int | None = None) -> Replay:
    """Feeds the trace's packets to buffer at their arrival times and calls get() every frame.

    The playout clock ticks every frame_ms from start_ms (default: the first
    arrival); all packets that arrived by a tick are put before that tick's
    get. Payloads are the frame index as 4 little-endian bytes, so that what
    is played can be identified. tick_ms (default: the frame length) is the
    playout clock's period; a 10 ms clock with 20 ms frames plays each frame
    over two ticks (status 6 for the second), or all of it in one tick
    (status 3 with an empty `last_skipped`); a 20 ms clock with 10 ms frames
    plays two in each tick (`last_more`).
    """
    spf = trace.samples_per_frame
    pk = trace.packets
    tick = trace.frame_ms if tick_ms is None else tick_ms
    t0 = pk[0][0] if start_ms is None else start_ms
    if ticks is None:
        ticks = int((pk[-1][0] - t0) / tick) + 50 * trace.frame_ms // tick
    frames: list[int] = []
    times: list[float] = []
    statuses: dict[int, int] = {}
    events: list[tuple[int, tuple[int, ...]]] = []
    put = buffer.put
    get = buffer.get
    j = 0
    n = len(pk)
    audio_end = t0  # where the audio handed out so far ends (packets of other lengths than a tick)
    for k in range(ticks):
        now = t0 + k * tick
        while j < n and pk[j][0] <= now:
            a, i = pk[j]
            put(i & 0xFFFF, (i * spf) & 0xFFFFFFFF, i.to_bytes(4, "little"), a, False)
            j += 1
        data, status = get(now)
        code = int(status)
        statuses[code] = statuses.get(code, 0) + 1
        parts: list[bytes | None] = []
        if code in (NORMAL, LOST, LATE, ACCELERATED):
            parts.append(data)
        if code == ACCELERATED:
            skipped: bytes = getattr(buffer, "last_skipped")  # noqa: B009 (not in the Protocol)
            if skipped:
                parts.append(skipped)
        parts.extend(getattr(buffer, "last_more", ()))
        # each part starts where the one before it ends; an accelerated tick plays them at speed 2
        at = audio_end if code == CONTINUED else now
        step = trace.frame_ms / (2 if code == ACCELERATED else 1)
        played: tuple[int, ...] = ()
        for part in parts:
            if part is not None:
                played += (int.from_bytes(part[:4], "little"),)
                frames.append(played[-1])
                times.append(at)
            at += step
        if parts:
            audio_end = at
        events.append((code, played))
    r = summarise(trace, np.array(frames, dtype=np.int64), np.array(times))
    r.statuses = statuses
    r.ticks = events
    return r


def summarise(trace: Trace, frames: np.ndarray, play_ms: np.ndarray, name: str = "") -> Replay:
    """Late loss and playout-delay statistics from the frames played and their times."""
    delays = play_ms - trace.send_ms[frames] - BASE_MS if len(frames) else np.zeros(0)
    delivered = ~np.isnan(trace.arrival_ms)
    was_played = np.zeros(trace.frames, dtype=bool)
    was_played[frames] = True
    late = int(np.sum(delivered & ~was_played))
    return Replay(name or trace.name, frames, play_ms, late / trace.frames,
                  float(np.mean(delays)) if len(delays) else float("nan"),
                  float(np.percentile(delays, 95)) if len(delays) else float("nan"), delays)


def fixed_playout(trace: Trace, delay_ms: float) -> Replay:
    """Frame i played at send_i + BASE_MS + delay_ms if it has arrived by then.

    With delay_ms = oracle_delay(trace) this is the oracle (it knows the
    sender's true clock, so drift does not move it).
    """
    play_at = trace.send_ms + BASE_MS + delay_ms
    ok = ~np.isnan(trace.arrival_ms) & (trace.arrival_ms <= play_at)
    idx = np.nonzero(ok)[0]
    r = summarise(trace, idx, play_at[idx], f"fixed {delay_ms:.0f} ms")
    r.ticks = [(0, (i,)) if ok[i] else (1, ()) for i in range(trace.frames)]
    return r


def fixed_after_first(trace: Trace, buffer_ms: float = 60.0) -> Replay:
    """The classic fixed buffer: frame i plays buffer_ms after the first packet + i ticks.

    Playout runs on the receiver's clock, so clock drift slowly moves it.
    """
    first_arrival, i0 = trace.packets[0]
    play_at = first_arrival + buffer_ms + (np.arange(trace.frames) - i0) * trace.frame_ms
    ok = ~np.isnan(trace.arrival_ms) & (trace.arrival_ms <= play_at)
    idx = np.nonzero(ok)[0]
    r = summarise(trace, idx, play_at[idx], f"fixed {buffer_ms:.0f} ms")
    r.ticks = [(0, (i,)) if ok[i] else (1, ()) for i in range(trace.frames)]
    return r


class PcmPlayout(Protocol):
    """What replay_audio() drives: the shape of offhook.engine.Playout."""
    def put(self, seq: int, timestamp: int, payload: bytes, arrival_ms: float,
            marker: bool = False) -> object: ...
    def get(self, now_ms: float) -> tuple[np.ndarray, object]: ...


def replay_audio(trace: Trace, playout: PcmPlayout, payloads: list[bytes], *,
                 ticks: int | None = None, tick_ms: int | None = None) -> np.ndarray:
    """The PCM a playout object produces when the trace carries `payloads` (frame i -> payloads[i]).

    Same clock as replay(): ticks every frame_ms from the first arrival, puts
    before gets. Frames beyond len(payloads) are not sent.
    """
    spf = trace.samples_per_frame
    pk = [(a, i) for a, i in trace.packets if i < len(payloads)]
    tick = trace.frame_ms if tick_ms is None else tick_ms
    t0 = pk[0][0]
    if ticks is None:
        ticks = int((pk[-1][0] - t0) / tick) + 50 * trace.frame_ms // tick
    out = []
    j = 0
    for k in range(ticks):
        now = t0 + k * tick
        while j < len(pk) and pk[j][0] <= now:
            a, i = pk[j]
            playout.put(i & 0xFFFF, (i * spf) & 0xFFFFFFFF, payloads[i], a, False)
            j += 1
        out.append(playout.get(now)[0])
    return np.concatenate(out)


class _Codec(Protocol):
    def decode(self, payload: bytes) -> np.ndarray: ...
    def conceal(self, n: int) -> np.ndarray: ...


class _Scaler(Protocol):
    def pass_frame(self, pcm: np.ndarray) -> np.ndarray: ...
    def accelerate(self, pcm: np.ndarray) -> np.ndarray: ...
    def expand(self) -> np.ndarray: ...


def render(replay_: Replay, payloads: list[bytes], codec: _Codec, frame_samples: int,
           scaler: _Scaler | None = None) -> np.ndarray:
    """The audio a listener hears: decode what was played, conceal the rest.

    With a scaler (offhook.engine.TimeScaler), ACCELERATED ticks are WSOLA-
    compressed pairs (what offhook.engine.Playout does); without one, a pair
    keeps the first half of each frame. Stretch, lost and late ticks are codec
    concealment either way; silence is zeros.
    """
    out: list[np.ndarray] = []
    silence = np.zeros(frame_samples, dtype=np.int16)
    for status, frames in replay_.ticks:
        if status == 6:
            continue
        if frames:
            pcm = [codec.decode(payloads[f]) for f in frames]
            if len(pcm) == 2:
                if scaler is not None:
                    out.append(scaler.accelerate(np.concatenate(pcm)))
                    continue
                h = frame_samples // 2
                frame = np.concatenate([pcm[0][:h], pcm[1][h:]])
            else:
                frame = pcm[0]
        elif status == 5:
            frame = silence.copy()
        else:
            frame = codec.conceal(frame_samples)
        out.append(scaler.pass_frame(frame) if scaler is not None else frame)
    return np.concatenate(out) if out else silence
