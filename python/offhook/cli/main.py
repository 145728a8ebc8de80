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
    from offhook.cli.calls import add_parsers
    add_parsers(commands)
    from offhook.cli.console import add_arguments
    from offhook.cli.history_cmd import add_parser as add_history
    add_history(commands)
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
    if args.command == "bench" and args.bench_what == "codecs":
        from offhook.cli.bench_codecs import run
        return run(seconds=args.seconds, losses=args.loss or [0.0, 5.0, 20.0], as_json=args.json)
    if args.command == "call":
        from offhook.cli.calls import run_call
        return run_call(args)
    if args.command == "answer":
        from offhook.cli.calls import run_answer
        return run_answer(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
