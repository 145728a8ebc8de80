"""`offhook register`: keep one account registered until Ctrl-C / SIGTERM, then unregister.

    offhook register --user alice --password secret --registrar sip.example.com:5060
                     [--transport udp|tcp|tls] [--expires 300] [--once] [--dns HOST:PORT]

A --registrar host name is located by RFC 3263 through --dns or the nameservers of
/etc/resolv.conf (getaddrinfo when DNS knows nothing): without a port by NAPTR/SRV,
the REGISTER failing over to the next server on 503, a transport error or no answer.

Prints `registered as sip:alice@HOST (expires in N s)` once the registrar accepted
the binding, refreshes it before it expires (sip/register.py), and on Ctrl-C or
SIGTERM sends the unregister (Expires: 0) and prints `unregistered`. `--once`
registers and unregisters straight away (a credentials check for scripts). Exit
status 0, or 1 with the one-line reason (`authentication failed (401) at HOST:PORT`,
`no answer from the registrar (408) at ...`). The password is never printed.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable

from offhook.cli.calls import add_dns_option, host_port
from offhook.errors import OffhookError
from offhook.phone.config import has_port
from offhook.sip.agent import SipAgent, local_address_towards
from offhook.sip.auth import Credentials, DigestClient
from offhook.sip.register import Registration, RegState
from offhook.sip.resolve import locate_registrar, system_resolver
from offhook.sip.tls import TlsConfig
from offhook.sip.uri import SipURI

__all__ = ["add_parser", "run_register"]

_TIMEOUT = 10.0


class RegisterFailed(OffhookError):
    """str() is the one-line reason."""


def _expires(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 86400:
        raise argparse.ArgumentTypeError(f"--expires wants 1..86400 seconds, not {text!r}")
    return int(text)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reg = commands.add_parser("register", help="register an account and keep it registered")
    reg.add_argument("--user", required=True, help="account user name")
    reg.add_argument("--password", required=True, help="account password (never logged)")
    reg.add_argument("--registrar", required=True, metavar="HOST[:PORT]",
                     help="registrar address (without a port: located by NAPTR/SRV, else "
                          "5060, 5061 for tls)")
    reg.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp",
                     help="udp (default), tcp or tls (the registrar's certificate is verified)")
    reg.add_argument("--expires", type=_expires, default=300, metavar="S",
                     help="binding lifetime to ask for, seconds (default 300)")
    reg.add_argument("--once", action="store_true", help="register, then unregister at once")
    reg.add_argument("--listen", metavar="ADDR:PORT",
                     help="local SIP address (default: towards the registrar)")
    reg.add_argument("--domain", help="domain of the address of record (default: the registrar's host)")
    reg.add_argument("--tls-ca", metavar="PEM", help="trust only this CA for the registrar's certificate")
    reg.add_argument("--tls-insecure-no-verify", action="store_true",
                     help="DANGEROUS: do not verify the registrar's TLS certificate")
    add_dns_option(reg)


def run_register(args: argparse.Namespace) -> int:
    try:
        registrar = host_port(args.registrar, 5061 if args.transport == "tls" else 5060)
        listen = host_port(args.listen, 0) if args.listen else None
    except argparse.ArgumentTypeError as exc:
        return _fail(str(exc))
    try:
        asyncio.run(_register(args, registrar, listen))
    except OffhookError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:   # before the signal handlers were set
        return _fail("interrupted")
    return 0


def _fail(reason: str) -> int:
    print(f"offhook: {reason}", file=sys.stderr)
    return 1


async def _register(args: argparse.Namespace, registrar: tuple[str, int],
                    listen: tuple[str, int] | None) -> None:
    transport = args.transport.upper()
    resolver = system_resolver(args.dns, transports=(args.transport,))
    port = registrar[1] if has_port(args.registrar) else None
    targets = await locate_registrar(resolver, registrar[0], port, args.transport)
    host = listen[0] if listen else local_address_towards(targets[0].address)
    tls = TlsConfig(ca=args.tls_ca, insecure_no_verify=args.tls_insecure_no_verify)
    agent = await SipAgent.start((host, listen[1] if listen else 0), user=args.user,
                                 transports=(transport,), tls=tls, resolver=resolver)
    default_port = 5061 if transport == "TLS" else 5060
    if args.domain:
        aor = SipURI(host=args.domain, user=args.user)
    else:
        reg_host = f"[{registrar[0]}]" if ":" in registrar[0] else registrar[0]
        aor = SipURI(host=reg_host, user=args.user,
                     port=None if registrar[1] == default_port else registrar[1])
    reg = Registration(aor, registrar, agent.ua.contact, expires=args.expires,
                       auth=DigestClient(Credentials(args.user, args.password)), transport=transport)
    agent.use_registrar(reg, registrar[0], targets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _outcome(agent, agent.register(reg, timeout=_TIMEOUT), reg)
        _say(reg)
        while not args.once and not stop.is_set():
            waiter = asyncio.ensure_future(agent.wait_registration(reg, timeout=reg.expires + _TIMEOUT))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
                break
            await _outcome(agent, waiter, reg)
            _say(reg, refreshed=True)
        await agent.unregister(reg, timeout=_TIMEOUT)
        if reg.state is not RegState.UNREGISTERED:
            raise RegisterFailed(reg.reason or f"the unregister got no answer at {reg.peer}")
        print("unregistered", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await agent.close()


async def _outcome(agent: SipAgent, waiting: Awaitable[Registration], reg: Registration) -> None:
    try:
        await waiting
    except TimeoutError:
        raise RegisterFailed(f"no answer from the registrar (408) at {reg.peer}") from None
    if reg.state is not RegState.REGISTERED:
        raise RegisterFailed(reg.reason or f"registration failed at {reg.peer}")


def _say(reg: Registration, *, refreshed: bool = False) -> None:
    what = "refreshed" if refreshed else "registered as"
    print(f"{what} {reg.aor} (expires in {reg.granted} s)", flush=True)
