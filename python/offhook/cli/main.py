"""Entry point of the `offhook` command: parses arguments, dispatches to subcommands."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import offhook


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offhook", description="offhook softphone media engine")
    parser.add_argument("--version", action="version", version=f"offhook {offhook.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    bench = commands.add_parser("bench", help="measure the engine's components")
    bench_what = bench.add_subparsers(dest="bench_what", metavar="WHAT", required=True)
    codecs = bench_what.add_parser(
        "codecs", help="speech through each codec: quality (PESQ) and speed")
    codecs.add_argument("--seconds", type=float, default=8.0,
                        help="length of the speech sample (default 8)")
    codecs.add_argument("--loss", type=float, action="append", default=None,
                        metavar="PERCENT",
                        help="random packet loss to add (repeatable; default 0, 5, 20)")
    codecs.add_argument("--json", action="store_true", help="print JSON instead of a table")
    call = bench_what.add_parser(
        "call", help="real calls on loopback between two offhook phones, one per codec: quality report")
    from offhook.phone.config import CODECS
    call.add_argument("--codec", action="append", choices=CODECS,
                      help="a codec to call with (repeatable; default: opus, G722, PCMU, PCMA)")
    call.add_argument("--seconds", type=float, default=4.0, help="speech each way, seconds (default 4)")
    call.add_argument("--json", action="store_true", help="print JSON instead of a table")
    from offhook.cli.calls import add_parsers
    add_parsers(commands)
    from offhook.cli.register_cmd import add_parser as add_register
    add_register(commands)

    backends = ("sounddevice", "pyaudio")
    devices = commands.add_parser("devices", help="list sound devices (capture and playback)")
    devices.add_argument("--backend", choices=backends, default="sounddevice",
                         help="PortAudio binding to list through (default sounddevice)")
    devices.add_argument("--kind", choices=("input", "output"), default=None,
                         help="only capture (input) or playback (output) devices")
    devices.add_argument("--json", action="store_true", help="print JSON instead of a table")

    probe = commands.add_parser(
        "probe", help="measure a device pair: round-trip latency, noise, clipping, echo (+ PNG)")
    probe.add_argument("--device", metavar="NAME", help="one device for both capture and playback")
    probe.add_argument("--capture", metavar="NAME", help="capture device (default: --device)")
    probe.add_argument("--playback", metavar="NAME", help="playback device (default: --device)")
    probe.add_argument("--backend", choices=backends, default="sounddevice")
    probe.add_argument("--rate", type=int, default=48000, help="device rate in Hz (default 48000)")
    probe.add_argument("--out", metavar="DIR", default=None,
                       help="write report.txt, report.json and probe.png into DIR")
    probe.add_argument("--json", action="store_true", help="print the report as JSON")
    from offhook.cli.campaign_cmd import add_parsers as add_campaign
    from offhook.cli.console import add_arguments
    from offhook.cli.history_cmd import add_parser as add_history
    add_history(commands)
    from offhook.web.cli import add_parser as add_web
    add_web(commands)
    add_campaign(commands)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if not sys.stdin.isatty():
            parser.print_help()   # scripts get the usage; a person at a terminal the console
            return 0
        from offhook.cli.console import run_console
        return run_console(args)
    if args.command == "history":
        from offhook.cli.history_cmd import run_history
        return run_history(args)
    if args.command == "bench" and args.bench_what == "call":
        from offhook.cli.bench_call import run as run_calls
        return run_calls(args.codec, seconds=args.seconds, as_json=args.json)
    if args.command == "campaign":
        from offhook.cli.campaign_cmd import run_campaign
        return run_campaign(args)
    if args.command == "report":
        from offhook.cli.campaign_cmd import run_report
        return run_report(args)
    if args.command == "bench" and args.bench_what == "codecs":
        from offhook.cli.bench_codecs import run
        return run(seconds=args.seconds, losses=args.loss or [0.0, 5.0, 20.0], as_json=args.json)
    if args.command == "web":
        from offhook.web.cli import run_web
        return run_web(args)
    if args.command == "call":
        from offhook.cli.calls import run_call
        return run_call(args)
    if args.command == "answer":
        from offhook.cli.calls import run_answer
        return run_answer(args)
    if args.command == "register":
        from offhook.cli.register_cmd import run_register
        return run_register(args)
    if args.command == "devices":
        from offhook.cli.devices import run_devices
        return run_devices(backend=args.backend, kind=args.kind, as_json=args.json)
    if args.command == "probe":
        from offhook.cli.devices import run_probe
        return run_probe(capture=args.capture or args.device, playback=args.playback or args.device,
                         backend=args.backend, rate=args.rate, out_dir=args.out, as_json=args.json)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
