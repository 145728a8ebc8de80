"""`offhook history`: the call log (newest first) from the configured SQLite file."""
from __future__ import annotations

import argparse
import sys

from offhook.errors import OffhookError

__all__ = ["DEFAULT_HISTORY", "add_parser", "run_history"]

DEFAULT_HISTORY = "~/.local/share/offhook/history.sqlite"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser("history", help="show the call history")
    history.add_argument("--limit", type=int, default=30, help="how many calls (default 30)")
    history.add_argument("--db", metavar="FILE",
                         help="history database (default: [phone] history in the config, "
                              f"else {DEFAULT_HISTORY})")
    history.add_argument("--direction", choices=("in", "out"), help="only incoming or outgoing calls")


def run_history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from offhook.phone.config import load_config
    from offhook.phone.history import History, format_entries
    try:
        path = Path(args.db) if args.db else (load_config(args.config).history or Path(DEFAULT_HISTORY))
        if args.limit < 1:
            raise OffhookError("--limit must be at least 1")
        if not path.expanduser().exists():
            print(f"no call history yet ({path})")
            return 0
        history = History(path)
        try:
            print(format_entries(history.entries(args.limit, direction=args.direction)))
        finally:
            history.close()
    except OffhookError as exc:
        print(f"offhook: {exc}", file=sys.stderr)
        return 1
    return 0
