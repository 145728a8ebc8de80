"""SIP load: offhook as UAS against a SIPp UAC (INVITE -> 100 -> 200 -> ACK -> BYE -> 200).

    .venv/bin/python bench/bench_sip_load.py [--seconds 10] [--rates 100,200,300,400,500,600,800]

Three figures:
1. the SIP parser, messages per second (INVITE with SDP, 200 OK);
2. the sans-I/O core: CPU per answered call on the UAS side (INVITE in, 200 out, ACK in,
   BYE in, 200 out — transactions, dialog, SDP answer, session timer; messages parsed
   once outside the timing, as the transport does) -> calls per second of one core;
3. the real thing: a minimal answering agent (SipAgent over UDP, every call answered at
   once, no media) in its own process pinned to one CPU, and SIPp's built-in `uac`
   scenario on the other CPU at increasing rates for `--seconds` each. A step passes when
   SIPp reports no failed call; "achieved" is the calls SIPp completed over the step's
   wall time (SIPp itself may fall behind the rate asked for), and the agent's CPU time
   (from /proc) over the step gives its load, so `achieved / load` estimates the calls
   per second one full core sustains.

Anchor: none in Python; the target (issue 6) is >= 300 calls/s on one core without
failed calls. SIPp needs Debian's `sip-tester`.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import print_table, seconds_per_call, write_json

ROOT = Path(__file__).resolve().parents[1]


# --- 3. the answering agent (runs in its own process with --uas) -------------------------------


async def _uas(port_file: Path) -> None:
    from offhook.sdp import MediaCapabilities
    from offhook.sip.agent import SipAgent

    agent = await SipAgent.start(("127.0.0.1", 0), transports=("UDP",))
    caps = MediaCapabilities(address="127.0.0.1", port=40000, codecs=("PCMU",))
    agent.ua.media_capabilities = lambda request: caps
    agent.ua.max_calls = 100_000
    agent.ua.linger = 4.0          # keep the call table small: ended calls go after 4 s
    port_file.write_text(str(agent.transport.local["UDP"][1]))
    while True:
        call = await agent.next_incoming()
        agent.answer(call)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_step(sipp: str, port: int, rate: int, seconds: float, workdir: Path, cpu: int | None,
              uas_pid: int) -> dict[str, object]:
    calls = int(rate * seconds)
    args = [sipp, "-sn", "uac", "-i", "127.0.0.1", "-p", "0", "-r", str(rate), "-m", str(calls),
            "-l", str(max(calls, 100)), "-timeout", f"{seconds + 15:.0f}s", "-timeout_error",
            "-nostdin", "-trace_stat", "-fd", "1", f"127.0.0.1:{port}"]
    if cpu is not None and shutil.which("taskset"):
        args = ["taskset", "-c", str(cpu), *args]
    cpu0, start = _cpu_seconds(uas_pid), time.monotonic()
    proc = subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - start
    load = (_cpu_seconds(uas_pid) - cpu0) / wall
    ok, failed = _sipp_counts(workdir)
    for stat in workdir.glob("*_.csv"):
        stat.unlink()
    achieved = ok / wall    # SIPp may fall behind the rate asked for: count what it did
    return {"rate": rate, "calls": calls, "successful": ok, "failed": failed,
            "sipp_exit": proc.returncode, "wall_s": wall, "achieved_cps": achieved, "uas_load": load,
            "cps_per_core": achieved / load if load > 0 else float("nan")}


def _sipp_counts(workdir: Path) -> tuple[int, int]:
    """Successful and failed calls from the last line of SIPp's statistics CSV."""
    for stat in workdir.glob("*_.csv"):
        lines = stat.read_text().strip().splitlines()
        names, last = lines[0].split(";"), lines[-1].split(";")
        values = dict(zip(names, last, strict=False))
        return int(values.get("SuccessfulCall(C)", 0)), int(values.get("FailedCall(C)", 0))
    return 0, -1


def load_steps(rates: list[int], seconds: float) -> list[dict[str, object]]:
    sipp = shutil.which("sipp")
    if sipp is None:
        print("SIPp (Debian sip-tester) is not installed: skipping the load steps")
        return []
    workdir = ROOT / "bench" / "out" / "sip_load"
    workdir.mkdir(parents=True, exist_ok=True)
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    cpus = sorted(os.sched_getaffinity(0))
    uas_cpu = cpus[0]
    sipp_cpu = cpus[1] if len(cpus) > 1 else None
    uas = subprocess.Popen([sys.executable, __file__, "--uas", str(port_file)],
                           preexec_fn=lambda: os.sched_setaffinity(0, {uas_cpu}))
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or uas.poll() is not None:
                raise RuntimeError("the answering agent did not start")
            time.sleep(0.05)
        port = int(port_file.read_text())
        _run_step(sipp, port, 50, 1.0, workdir, sipp_cpu, uas.pid)    # warm-up
        rows = []
        for rate in rates:
            row = _run_step(sipp, port, rate, seconds, workdir, sipp_cpu, uas.pid)
            rows.append(row)
            print(f"  {rate} calls/s: {row['successful']} ok, {row['failed']} failed, "
                  f"agent load {row['uas_load']:.2f}", flush=True)
            if row["failed"] != 0:
                break
            time.sleep(1.0)
        return rows
    finally:
        os.kill(uas.pid, signal.SIGTERM)
        uas.wait(timeout=5)


# --- 1 and 2: parser and core, in process ---------------------------------------------------------


def parser_rates() -> list[dict[str, object]]:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_sip_parse import INVITE, OK
    from offhook.sip import parse_message
    rows = []
    for name, data in (("INVITE+SDP", INVITE), ("200 OK", OK)):
        seconds = seconds_per_call(lambda data=data: parse_message(data))
        rows.append({"message": name, "us_per_msg": seconds * 1e6, "msgs_per_s": 1 / seconds})
    return rows


def core_cost(calls: int = 300) -> float:
    """Seconds of UAS core time per call (sans-I/O, messages pre-parsed)."""
    from offhook.sdp import MediaCapabilities
    from offhook.sip import parse_message
    from offhook.sip.dialog import LocalContact
    from offhook.sip.transaction import Send
    from offhook.sip.ua import UserAgent
    from offhook.sip.uri import SipURI

    a_addr, b_addr = ("127.0.0.1", 5070), ("127.0.0.1", 5080)
    caps = MediaCapabilities(address="127.0.0.1", port=40000, codecs=("PCMU",))
    a = UserAgent(LocalContact(*a_addr, user="a"), identity=SipURI(host="127.0.0.1", user="a"))
    b = UserAgent(LocalContact(*b_addr, user="b"), identity=SipURI(host="127.0.0.1", user="b"),
                  media_capabilities=lambda request: caps)
    spent = 0.0

    def to_b(outputs: list[object], now: float) -> list[object]:
        nonlocal spent
        result: list[object] = []
        for o in outputs:
            if isinstance(o, Send):
                msg = parse_message(o.data)
                t0 = time.perf_counter()
                result += b.receive(msg, a_addr, "UDP", now)
                spent += time.perf_counter() - t0
        return result

    def to_a(outputs: list[object], now: float) -> list[object]:
        result: list[object] = []
        for o in outputs:
            if isinstance(o, Send):
                result += a.receive(parse_message(o.data), b_addr, "UDP", now)
        return result

    for i in range(calls):
        now = i * 0.01
        call, out = a.call("sip:b@127.0.0.1:5080", caps, now)
        to_b(out, now)
        t0 = time.perf_counter()
        answered = b.answer(b.calls[call.call_id], now)
        spent += time.perf_counter() - t0
        to_b(to_a(answered, now), now)            # 200 -> ACK
        to_a(to_b(a.hangup(call, now), now), now)  # BYE -> 200
        for ua in (a, b):
            ua.tick(now)
    return spent / calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uas", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="100,200,300,400,500,600,800")
    args = parser.parse_args()
    if args.uas is not None:
        asyncio.run(_uas(args.uas))
        return
    parse_rows = parser_rates()
    print_table("SIP parser", ["message", "µs/msg", "msgs/s"],
                [[r["message"], r["us_per_msg"], r["msgs_per_s"]] for r in parse_rows])
    per_call = min(core_cost() for _ in range(3))
    print_table("UAS core (sans-I/O), per answered call", ["µs/call", "calls/s/core"],
                [[per_call * 1e6, 1 / per_call]])
    steps = load_steps([int(r) for r in args.rates.split(",")], args.seconds)
    if steps:
        print_table("offhook UAS vs SIPp uac (INVITE/200/ACK/BYE)",
                    ["calls/s offered", "achieved", "ok", "failed", "agent CPU load", "≈ calls/s per core"],
                    [[s["rate"], s["achieved_cps"], s["successful"], s["failed"], s["uas_load"],
                      s["cps_per_core"]] for s in steps])
        clean = [int(str(s["rate"])) for s in steps if s["failed"] == 0 and s["successful"] == s["calls"]]
        print(f"highest rate without failed calls: {max(clean) if clean else 0} calls/s")
    write_json("sip_load", [*parse_rows, {"core_us_per_call": per_call * 1e6}, *steps])


if __name__ == "__main__":
    main()
