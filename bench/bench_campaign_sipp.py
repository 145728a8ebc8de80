"""The dialer on real SIP: progressive vs predictive against SIPp callees and agents.

A plain script (run: .venv/bin/python bench/bench_campaign_sipp.py [--agents 30]
[--seconds 60]).  Both modes dial the same contact list (seeded mix of callee
behaviours: person, answering machine, busy, failing, ringing out — one SIPp
UAS each) for ``--seconds`` (90), then stop gracefully; agents are SIPp UAS holding
each call for a uniform 2..6 s.  The dialer is one process: CampaignRunner +
SipOriginator (one SipAgent, one MediaEngine, answering-machine detection on
every answered call, the abandon message, agent bridges in per-agent engines).

Printed per mode: agent utilisation (talk time / agent time), abandon rate
(abandoned / answered by a person), peak simultaneous SIP calls (ringing,
answered, bridged legs), peak calls ringing, live calls and dials per second.
The anchor is progressive (it cannot abandon); the ratio is predictive's
utilisation over progressive's.  The tests' load bed (tests/dialer_load.py)
is reused, so SIPp and espeak-ng must be installed.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dialer_load import LoadBed, LoadMix
from harness import print_table, write_json
from offhook.dialer.pacing import PredictivePacing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=90.0, help="dialling time per mode")
    ap.add_argument("--ring-timeout", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-ramp", action="store_true",
                    help="also run predictive without its ramp (ramp_per_agent=0), for comparison")
    args = ap.parse_args()
    mix = LoadMix(human=0.15, machine=0.1, busy=0.1, fail=0.05, ringout=0.6)
    rows = []
    json_rows = []
    with tempfile.TemporaryDirectory(prefix="offhook-bench-campaign-") as tmp:
        bed = LoadBed(Path(tmp), agents=args.agents, handle=(2.0, 6.0))
        try:
            util: dict[str, float] = {}
            runs = ["progressive", "predictive"] + (["predictive, no ramp"] if args.no_ramp else [])
            for label in runs:
                mode = label.split(",")[0]
                policy = (PredictivePacing(0.03, ring_timeout=args.ring_timeout, ramp_per_agent=0.0)
                          if label.endswith("no ramp") else None)
                r = asyncio.run(bed.run(mode, contacts=int(args.seconds * 80), mix=mix, seed=args.seed,
                                        ring_timeout=args.ring_timeout, duration=args.seconds,
                                        max_in_flight=600, policy=policy,
                                        name=label.replace(",", "")))
                util[mode] = r.utilisation
                d = r.as_dict()
                d["vs_progressive"] = r.utilisation / util["progressive"] if util["progressive"] else 0.0
                d["label"] = label
                d["abandon_windows_15s"] = r.abandon_windows(15.0)
                d["worst_window_15s"] = r.worst_window(15.0)
                json_rows.append(d)
                rows.append([label, f"{r.utilisation * 100:.1f} %", f"{r.abandon_rate * 100:.2f} %",
                             f"{r.worst_window(15.0) * 100:.1f} %",
                             r.live, r.abandoned, r.peak_sip_calls, r.peak_ringing,
                             f"{r.dials / r.wall_seconds:.1f}", f"{r.wall_seconds:.0f}",
                             f"{d['vs_progressive']:.2f}x"])
                print(label, rows[-1], flush=True)
        finally:
            bed.stop()
    print_table(f"Dialer on SIPp: {args.agents} agents, {args.seconds:g} s per mode, handle 2-6 s, "
                f"15 % persons, ring-out {args.ring_timeout:g} s, abandon target 3 %",
                ["mode", "utilisation", "abandon", "worst 15 s", "live", "abandoned", "peak SIP calls",
                 "peak ringing", "dials/s", "wall s", "utilisation vs progressive"], rows)
    for d in json_rows:
        windows = " ".join(f"{ab}/{live}" for _, live, ab in d["abandon_windows_15s"])
        print(f"{d['label']}: abandoned/answered per 15 s window: {windows}")
    print(f"\nJSON: {write_json('campaign_sipp', json_rows)}")


if __name__ == "__main__":
    main()
