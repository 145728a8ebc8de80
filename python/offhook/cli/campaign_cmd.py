"""`offhook campaign` (create, start, stop, resume, status) and `offhook report`.

    offhook campaign create spring --db c.sqlite --contacts list.csv --mode predictive \\
        --abandon-target 0.03 --hours "mon-fri=09:00-20:00" --dnc dnc.txt
    offhook campaign start spring --db c.sqlite --route "sip:{number}@pbx.example:5060" \\
        --agent sip:anna@10.0.0.5:5062 --agent sip:ben@10.0.0.6:5062 --amd --abandon-message sorry.wav
    offhook campaign stop spring --db c.sqlite      # the running dialer finishes its calls and exits
    offhook campaign resume spring --db c.sqlite ... # same options as start
    offhook campaign status spring --db c.sqlite [--json]
    offhook report --db c.sqlite --campaign spring --format html --out report.html

`start` runs the dialer in the foreground until the campaign has nothing left
to dial (exit 0), `campaign stop` is run from elsewhere, or SIGINT/SIGTERM
arrive (graceful: calls in progress end first).  Several `start --shared`
processes may work on one campaign (see docs/dialer.md).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from offhook.errors import OffhookError

__all__ = ["add_parsers", "run_campaign", "run_report"]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    campaign = commands.add_parser("campaign", help="outbound dialer campaigns")
    what = campaign.add_subparsers(dest="campaign_what", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="campaign name")
        p.add_argument("--db", required=True, metavar="FILE|URL",
                       help="campaign store: a SQLite file, or postgresql://... (shared by workers)")

    create = what.add_parser("create", help="create a campaign from a contact list (CSV or SQLite)")
    common(create)
    create.add_argument("--contacts", required=True, metavar="FILE",
                        help="CSV with a number column (optional name, tz, anything else kept)")
    create.add_argument("--config", metavar="TOML", help="[campaign] table (flags below override it)")
    create.add_argument("--mode", choices=("preview", "progressive", "predictive"))
    create.add_argument("--abandon-target", type=float, metavar="FRACTION",
                        help="abandoned / live calls to stay under (default 0.03)")
    create.add_argument("--abandon-grace", metavar="SECONDS",
                        help="how long an answered person may wait for an agent (default 2 s)")
    create.add_argument("--ring-timeout", metavar="SECONDS", help="ring time before CANCEL (default 30 s)")
    create.add_argument("--hours", action="append", metavar="DAYS=HH:MM-HH:MM",
                        help="calling hours in the callee's zone, repeatable (e.g. mon-fri=09:00-20:00)")
    create.add_argument("--timezone", metavar="ZONE", help="callees' default IANA zone (default UTC)")
    create.add_argument("--max-in-flight", type=int, metavar="N", help="calls ringing at once at most")
    create.add_argument("--dnc", metavar="FILE", help="do-not-call numbers, one per line")

    for action, text in (("start", "run the dialer on a campaign (foreground)"),
                         ("resume", "continue a stopped campaign (foreground)")):
        p = what.add_parser(action, help=text)
        common(p)
        p.add_argument("--agent", action="append", required=True, metavar="URI",
                       help="an agent's phone (SIP URI), repeatable")
        p.add_argument("--route", default="sip:{number}@127.0.0.1:5060", metavar="TEMPLATE",
                       help="SIP URI a number is dialled at, {number} replaced "
                            "(default sip:{number}@127.0.0.1:5060)")
        p.add_argument("--listen", default="127.0.0.1:0", metavar="ADDR:PORT",
                       help="our SIP address (default 127.0.0.1, any port)")
        p.add_argument("--mode", choices=("preview", "progressive", "predictive"),
                       help="pacing for this run (default: the campaign's)")
        p.add_argument("--amd", action="store_true", help="answering-machine detection on answered calls")
        p.add_argument("--abandon-message", metavar="WAV",
                       help="played to a person no agent could take, before hanging up")
        p.add_argument("--cps", type=float, metavar="N", help="new calls per second at most")
        p.add_argument("--shared", action="store_true",
                       help="other workers dial this campaign too (no crash recovery at start)")
        p.add_argument("--dnc", metavar="FILE", help="more do-not-call numbers, one per line")
        if action == "resume":
            p.add_argument("--redial-interrupted", action="store_true",
                           help="dial again the numbers a crashed dialer left interrupted")

    stop = what.add_parser("stop", help="ask running dialers to stop (calls in progress end first)")
    common(stop)
    status = what.add_parser("status", help="contacts by state and the campaign's figures")
    common(status)
    status.add_argument("--json", action="store_true", help="print JSON")

    report = commands.add_parser("report", help="campaign statistics as CSV, JSON or HTML (with charts)")
    report.add_argument("--db", required=True, metavar="FILE|URL", help="campaign store")
    report.add_argument("--campaign", metavar="NAME", help="one campaign (default: every call)")
    report.add_argument("--format", choices=("csv", "json", "html"), default=None,
                        help="output format (default: html into --out, CSV on stdout)")
    report.add_argument("--out", metavar="PATH",
                        help="file to write (a directory: report.csv, .json and .html in it)")
    report.add_argument("--tz", default="UTC", help="zone of the per-hour and per-day groups")
    report.add_argument("--abandon-target", type=float, default=None,
                        help="highlight groups over it (default: the campaign's, else 0.03)")


def open_store(db: str) -> Any:
    """A campaign store for ``--db``: PostgreSQL for postgresql:// URLs, else a SQLite file."""
    if db.startswith(("postgresql://", "postgres://")):
        from offhook.dialer.pg_store import PgCampaignStore
        return PgCampaignStore(db)
    from offhook.dialer.store import CampaignStore
    return CampaignStore(db)


def _read_numbers(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise OffhookError(f"{p}: no such do-not-call file")
    return [line.split("#", 1)[0].strip() for line in p.read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip()]


def _config_mapping(args: argparse.Namespace) -> dict[str, Any]:
    import tomllib
    spec: dict[str, Any] = {}
    if args.config:
        try:
            with open(args.config, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise OffhookError(f"{args.config}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise OffhookError(f"{args.config}: not valid TOML: {exc}") from None
        spec.update(data.get("campaign", data))
    for key in ("mode", "abandon_target", "abandon_grace", "ring_timeout", "timezone", "max_in_flight"):
        value = getattr(args, key)
        if value is not None:
            spec[key] = value
    if args.hours:
        hours: dict[str, list[str]] = {}
        for item in args.hours:
            days, sep, window = item.partition("=")
            if not sep:
                raise OffhookError(f"--hours {item!r}: expected DAYS=HH:MM-HH:MM (e.g. mon-fri=09:00-20:00)")
            hours.setdefault(days.strip(), []).append(window.strip())
        spec["calling_hours"] = hours
    return spec


def run_campaign(args: argparse.Namespace) -> int:
    try:
        store = open_store(args.db)
    except OffhookError as exc:
        print(f"offhook: {exc}", file=sys.stderr)
        return 1
    try:
        return _dispatch(store, args)
    except OffhookError as exc:
        print(f"offhook: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _dispatch(store: Any, args: argparse.Namespace) -> int:
    from offhook.dialer.campaign import CampaignConfig, read_contacts
    now = time.time()
    if args.campaign_what == "create":
        spec = _config_mapping(args)
        CampaignConfig.from_mapping(spec)   # refuse a bad config before creating anything
        contacts = read_contacts(args.contacts)
        if args.dnc:
            store.add_dnc(_read_numbers(args.dnc), now, reason=f"from {args.dnc}")
        cid = store.create_campaign(args.name, now, spec)
        counts = store.add_contacts(cid, contacts)
        print(f"campaign {args.name}: {counts['added']} contacts, {counts['duplicate']} duplicates, "
              f"{counts['do_not_call']} on the do-not-call list")
        return 0
    cid = store.campaign_id(args.name)
    if args.campaign_what == "stop":
        store.set_status(cid, "stopped", now)
        print(f"campaign {args.name}: stop requested (dialers finish their calls, then exit)")
        return 0
    if args.campaign_what == "status":
        return _status(store, cid, args)
    # start / resume
    if args.campaign_what == "start" and store.status(cid) == "stopped":
        raise OffhookError(f"campaign {args.name} was stopped; `offhook campaign resume {args.name}` "
                           "continues it")
    if args.dnc:
        store.add_dnc(_read_numbers(args.dnc), now, reason=f"from {args.dnc}")
    if args.campaign_what == "resume" and args.redial_interrupted:
        n = store.requeue_interrupted(cid, now)
        print(f"campaign {args.name}: {n} interrupted number(s) will be dialled again")
    spec = store.campaign_config(cid)
    if args.mode:
        spec["mode"] = args.mode
    config = CampaignConfig.from_mapping(spec)
    store.set_status(cid, "running", now)
    return asyncio.run(_run(store, cid, config, args))


def _status(store: Any, cid: int, args: argparse.Namespace) -> int:
    states = store.state_counts(cid)
    live, abandoned = store.live_and_abandoned(cid)
    info = {"campaign": args.name, "status": store.status(cid), "contacts": states,
            "live": live, "abandoned": abandoned,
            "abandon_rate": round(abandoned / live, 4) if live else 0.0,
            "config": store.campaign_config(cid)}
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print(f"campaign {args.name}: {info['status']}")
    for state, n in sorted(states.items()):
        print(f"  {state:<14} {n}")
    print(f"  live calls {live}, abandoned {abandoned} ({info['abandon_rate'] * 100:.2f} %)")
    return 0


def _agents(uris: list[str]) -> list[Any]:
    from offhook.dialer.runner import Agent
    from offhook.sip.uri import SipURI, parse_uri
    agents = []
    for i, uri in enumerate(uris, start=1):
        try:
            parsed = parse_uri(uri)
        except (OffhookError, ValueError) as exc:
            raise OffhookError(f"--agent {uri!r}: not a SIP URI ({exc})") from None
        if not isinstance(parsed, SipURI):
            raise OffhookError(f"--agent {uri!r}: only sip: and sips: URIs can take calls")
        agents.append(Agent(parsed.user or f"agent{i}", uri))
    ids = [a.id for a in agents]
    if len(set(ids)) != len(ids):   # same user at several hosts
        agents = [Agent(f"{a.id}-{i}", a.uri) for i, a in enumerate(agents, start=1)]
    return agents


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise OffhookError(f"--listen {text!r}: expected ADDR:PORT (e.g. 127.0.0.1:5080)")
    return host.strip("[]"), int(port)


async def _run(store: Any, cid: int, config: Any, args: argparse.Namespace) -> int:
    from offhook.dialer.amd import AmdConfig
    from offhook.dialer.runner import CampaignRunner
    from offhook.dialer.sip_originator import SipOriginator
    agents = _agents(args.agent)
    originator = await SipOriginator.start(_listen(args.listen), route=args.route,
                                           amd=AmdConfig() if args.amd else None,
                                           abandon_message=args.abandon_message)
    runner = CampaignRunner(store, cid, config, originator, agents, calls_per_second=args.cps,
                            recover=not args.shared)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.stop)

    async def watch() -> None:   # `offhook campaign stop` from another process
        while True:
            await asyncio.sleep(0.5)
            if store.status(cid) == "stopped":
                runner.stop()
                return

    watcher = asyncio.create_task(watch())
    print(f"campaign {args.name}: dialling ({config.mode.value}, {len(agents)} agent(s)); "
          f"SIP on {originator.agent.ua.contact.host}:{originator.agent.ua.contact.port}", flush=True)
    try:
        summary = await runner.run()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await originator.close()
    print(f"campaign {args.name}: {'stopped' if summary.stopped else 'nothing left to dial'}; "
          f"{summary.dials} dials, {summary.live} live, {summary.abandoned} abandoned "
          f"({summary.abandon_rate * 100:.2f} %), outcomes {dict(sorted(summary.outcomes.items()))}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from offhook.report.build import build_report
    try:
        store = open_store(args.db)
        try:
            target = args.abandon_target
            if target is None and args.campaign:
                target = store.campaign_config(store.campaign_id(args.campaign)).get("abandon_target")
            report = build_report(store, campaign=args.campaign, tz=args.tz,
                                  abandon_target=0.03 if target is None else float(target))
        finally:
            store.close()
        out = Path(args.out) if args.out else None
        if out is not None and (out.is_dir() or (args.format is None and not out.suffix)):
            paths = report.write(out)
            print(" ".join(str(p) for p in paths.values()))
            return 0
        fmt = args.format or (out.suffix.lstrip(".") if out is not None and out.suffix else "csv")
        if fmt not in ("csv", "json", "html"):
            raise OffhookError(f"--out {out}: cannot tell the format; add --format csv|json|html")
        text = {"csv": report.to_csv, "json": report.to_json, "html": report.to_html}[fmt]()
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
    except OffhookError as exc:
        print(f"offhook: {exc}", file=sys.stderr)
        return 1
    return 0
