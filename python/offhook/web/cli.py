"""`offhook web`: the web handset from the command line.

    offhook web [--listen ADDR:PORT] [--config FILE] [--sip-listen ADDR:PORT]
                [--token-file FILE] [--directory customers.csv] [--cti-config FILE]
                [--campaign-db FILE] [--campaign NAME] [--allow-origin ORIGIN]...

The token comes from $OFFHOOK_WEB_TOKEN or --token-file; without either one is generated
and the login address printed. Listening anywhere but loopback needs a configured token.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from offhook.errors import OffhookError
from offhook.web.auth import WebConfigError, check_listen, new_token

__all__ = ["add_parser", "read_token", "run_web"]

TOKEN_ENV = "OFFHOOK_WEB_TOKEN"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("web", help="the web handset: a page to drive the phone from a browser")
    p.add_argument("--listen", dest="web_listen", metavar="ADDR:PORT", default="127.0.0.1:8080",
                   help="HTTP address (default 127.0.0.1:8080; others need a configured token)")
    p.add_argument("--config", dest="web_config", metavar="FILE",
                   help="phone configuration (default ~/.config/offhook/config.toml)")
    p.add_argument("--sip-listen", metavar="ADDR:PORT",
                   help="SIP address without an account (default 127.0.0.1:5060)")
    p.add_argument("--token-file", metavar="FILE",
                   help=f"file holding the access token (else ${TOKEN_ENV}, else one is generated)")
    p.add_argument("--directory", metavar="FILE.csv", action="append", default=[],
                   help="customer directory (CSV) for screen pops; repeatable")
    p.add_argument("--country", default="US", help="how numbers without + are read (default US)")
    p.add_argument("--cti-config", metavar="FILE",
                   help="a TOML file with a [cti] section (screen pops, hooks)")
    p.add_argument("--campaign-db", metavar="FILE", help="the dialer's SQLite store for the supervisor view")
    p.add_argument("--campaign", metavar="NAME", help="the campaign the supervisor view shows (default all)")
    p.add_argument("--allow-origin", metavar="ORIGIN", action="append", default=[],
                   help="another site that may embed the handset (https://crm.example); repeatable")


def read_token(token_file: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The configured token (None: none configured). WebConfigError for an unusable one."""
    env = os.environ if environ is None else environ
    if token_file is not None:
        try:
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise WebConfigError(f"--token-file: cannot read {token_file}: {exc}") from None
        source = token_file
    else:
        token = env.get(TOKEN_ENV, "").strip()
        source = f"${TOKEN_ENV}"
        if not token:
            return None
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise WebConfigError(f"{source}: a token must be at least 16 printable ASCII characters "
                             "without spaces")
    return token


async def _serve(args: argparse.Namespace, token: str, generated: bool, listen: tuple[str, int]) -> None:
    from offhook.cli.phone_config import front_end_config
    from offhook.phone import Phone
    from offhook.web.handset import Handset, device_lister
    from offhook.web.server import WebServer

    config = front_end_config(args.web_config, args.sip_listen, "--sip-listen")
    cti = _cti(args)
    phone = Phone(config)
    await phone.start()
    handset = Handset(phone, cti=cti, campaign_db=Path(args.campaign_db) if args.campaign_db else None,
                      campaign=args.campaign, list_devices=device_lister())
    server = WebServer(handset, token=token, listen=listen, allowed_origins=args.allow_origin)
    try:
        await server.start()
        for name, line in phone.lines.items():
            host, port = line.agent.listen_address
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            transport = line.agent.ua.contact.transport
            print(f"offhook web: SIP {name} on {where}" + ("" if transport == "UDP" else f" ({transport})"),
                  flush=True)
        if generated:
            print(f"offhook web: open {server.login_url}  (a new token each start; set ${TOKEN_ENV} "
                  "or --token-file to keep one)", flush=True)
        else:
            print(f"offhook web: open {server.url}?token=<your token>", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await server.stop()
        if cti is not None:
            await cti.aclose()
        await phone.stop()


def _cti(args: argparse.Namespace) -> Any:
    if not args.directory and not args.cti_config:
        return None
    from offhook.cti import CsvSourceConfig, CtiConfig, CtiService, load_config
    config = (load_config(args.cti_config) if args.cti_config
              else CtiConfig(default_country=args.country.upper()))
    extra = tuple(CsvSourceConfig(path=Path(p)) for p in args.directory)
    return CtiService.from_config(replace(config, directory=config.directory + extra))


def run_web(args: argparse.Namespace) -> int:
    try:
        from offhook.phone.config import parse_host_port
        try:
            listen = parse_host_port(args.web_listen, 8080)
        except ValueError as exc:
            raise WebConfigError(f"--listen: {exc}") from None
        token = read_token(args.token_file)
        check_listen(listen[0], token_configured=token is not None)
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            raise WebConfigError("the web handset needs aiohttp: pip install 'offhook[web]'") from None
        asyncio.run(_serve(args, token or new_token(), token is None, listen))
    except OffhookError as exc:
        print(f"offhook web: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"offhook web: cannot listen: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
