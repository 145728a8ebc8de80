"""`offhook call` and `offhook answer`: one call, no interaction, for scripts and tests.

    offhook call URI [--user U --password P --registrar HOST[:PORT]] [--listen ADDR:PORT]
                     [--play in.wav] [--record out.wav] [--duration S] [--audio null] [--dns HOST:PORT]
    offhook answer   [--listen ADDR:PORT] [--auto] [--play in.wav] [--record out.wav] [--duration S]
                     [--user U --password P --registrar HOST:PORT]   (an extension)

Host names (in URI, in --registrar) are located by RFC 3263 (NAPTR/SRV/A) through
--dns or the nameservers of /etc/resolv.conf, else getaddrinfo (sip/resolve.py); a
--registrar without a port is looked up by NAPTR/SRV, with a port only by address.

Exit status 0 when the call was established and ended normally (either side hung
up); otherwise 1 with a one-line reason on stderr, e.g.
`busy (486) at 127.0.0.1:5070` or `authentication failed (401) at 127.0.0.1:5060`.
Usage errors exit 2. `offhook answer` prints `listening on HOST:PORT` on stdout
first (so a script can start it on port 0), handles one call and exits.

How long a call lasts: --duration S hangs up S seconds after the answer;
without it, the caller hangs up when its --play file has been sent (else it
waits for the far end), and the answerer waits for the far end's BYE.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from offhook.errors import OffhookError
from offhook.phone import AccountConfig, Call, CallError, CallState, CallStateChanged, Phone, PhoneConfig
from offhook.phone.audio import WavAudio
from offhook.phone.config import has_port, parse_host_port
from offhook.sip.agent import local_address_towards
from offhook.sip.resolve import system_resolver
from offhook.sip.uri import SipURI, parse_uri

__all__ = ["add_parsers", "run_answer", "run_call"]

Address = tuple[str, int]
_RING_TIMEOUT = 120.0


class CallFailed(OffhookError):
    """The call did not happen or ended abnormally; str() is the one-line reason."""


def host_port(text: str, default_port: int | None = None) -> Address:
    """"127.0.0.1:5060", "[::1]:5060", or a bare host when default_port is given (argparse type)."""
    try:
        host, port = parse_host_port(text, -1 if default_port is None else default_port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if port < 0:
        raise argparse.ArgumentTypeError(f"{text.strip()!r} needs a port: HOST:PORT")
    return host, port


def _listen(text: str) -> Address:
    return host_port(text, 0)


def dns_server(text: str) -> Address:
    """--dns HOST[:PORT] (port default 53)."""
    return host_port(text, 53)


def add_dns_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dns", type=dns_server, metavar="HOST:PORT",
                        help="DNS server for RFC 3263 lookups of host names (NAPTR/SRV/A; "
                             "default: the nameservers of /etc/resolv.conf, then getaddrinfo)")


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--duration wants seconds, not {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("--duration must be positive")
    return value


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call = commands.add_parser("call", help="place one call (non-interactive)")
    call.add_argument("uri", metavar="URI", help="who to call, e.g. sip:bob@127.0.0.1:5070")
    _account_options(call, "register there first and send the call through it")
    call.add_argument("--listen", type=_listen, metavar="ADDR:PORT",
                      help="local SIP address (default: the address towards the peer, any port)")
    _media_options(call)
    call.add_argument("--audio", default="null", metavar="null|DEVICE",
                      help="sound device (only 'null': audio from --play, to --record)")
    answer = commands.add_parser("answer", help="take one incoming call (non-interactive)")
    answer.add_argument("--listen", type=_listen, default=("127.0.0.1", 5060), metavar="ADDR:PORT",
                        help="where to listen (default 127.0.0.1:5060)")
    _account_options(answer, "register there and take the call it sends (only calls from "
                     "the registrar are accepted then)")
    answer.add_argument("--auto", action="store_true",
                        help="answer at once (default: ring and answer when Enter is pressed)")
    _media_options(answer)


def _account_options(parser: argparse.ArgumentParser, registrar_help: str) -> None:
    parser.add_argument("--user", help="account user name (with --password and --registrar)")
    parser.add_argument("--password", help="account password (never logged)")
    parser.add_argument("--registrar", metavar="HOST:PORT",
                        help=registrar_help + " (port default: 5060, 5061 with --transport tls)")
    parser.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp",
                        help="the account's transport to its registrar (default udp)")
    parser.add_argument("--tls-cert", metavar="PEM", help="our TLS certificate chain: listen on TLS too")
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="trust only this CA for TLS servers (default: the system's store)")
    parser.add_argument("--tls-insecure-no-verify", action="store_true",
                        help="DANGEROUS: do not verify TLS server certificates")
    add_dns_option(parser)


def _media_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--play", metavar="in.wav", help="WAV to send once the call is up")
    parser.add_argument("--record", metavar="out.wav", help="record what the far end sends")
    parser.add_argument("--duration", type=_duration, metavar="S",
                        help="hang up S seconds after the answer")
    parser.add_argument("--srtp", choices=("off", "optional", "required"), default="off",
                        help="encrypt the media (SRTP with SDES keys): off (default), optional "
                             "(offered, plain RTP accepted) or required")


def _check_account(args: argparse.Namespace) -> str | None:
    """Finish the account options: the registrar's default port; a reason when they clash."""
    if (args.user is None) != (args.password is None):
        return "--user and --password go together"
    if (args.tls_cert is None) != (args.tls_key is None):
        return "--tls-cert and --tls-key go together"
    if args.registrar is not None and not isinstance(args.registrar, tuple):
        args.registrar_srv = not has_port(args.registrar)
        try:
            args.registrar = host_port(args.registrar, 5061 if args.transport == "tls" else 5060)
        except argparse.ArgumentTypeError as exc:
            return f"--registrar: {exc}"
    return None


def run_call(args: argparse.Namespace) -> int:
    if args.audio != "null":
        return _fail(f"--audio {args.audio}: only the null device is supported by offhook call yet")
    if (problem := _check_account(args)) is not None:
        return _fail(problem)
    try:
        asyncio.run(_call(args))
    except (CallFailed, OffhookError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    if (problem := _check_account(args)) is not None:
        return _fail(problem)
    try:
        asyncio.run(_answer(args))
    except (CallFailed, OffhookError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def _fail(reason: str) -> int:
    print(f"offhook: {reason}", file=sys.stderr)
    return 1


def _phone(args: argparse.Namespace, listen: Address, domain: str | None) -> Phone:
    """A Phone with one account (--user/--password[/--registrar]) or a peer-to-peer line."""
    accounts: tuple[AccountConfig, ...] = ()
    if args.user is not None:
        accounts = (AccountConfig(user=args.user, password=args.password, registrar=args.registrar,
                                  domain=None if args.registrar else domain, listen=listen,
                                  name=args.user, srtp=args.srtp, transport=args.transport,
                                  dns_server=args.dns, registrar_srv=getattr(args, "registrar_srv", False)),)
    elif args.registrar is not None:
        raise CallFailed("--registrar needs --user and --password")
    play, record = args.play, args.record
    return Phone(PhoneConfig(accounts=accounts, listen=listen, srtp=args.srtp,
                             tls_cert=_path(args.tls_cert), tls_key=_path(args.tls_key),
                             tls_ca=_path(args.tls_ca), tls_insecure_no_verify=args.tls_insecure_no_verify,
                             dns_server=args.dns),
                 audio=lambda: WavAudio(play=play, record=record))


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


async def _start(phone: Phone) -> None:
    await phone.start()
    for name in phone.lines:
        state, reason = phone.registration_state(name)
        if state == "failed":
            raise CallFailed(reason)


async def _call(args: argparse.Namespace) -> None:
    target = parse_uri(args.uri)
    if not isinstance(target, SipURI):
        raise CallFailed(f"cannot call {args.uri}: only sip: and sips: URIs are supported")
    listen = args.listen or (local_address_towards(await _peer_address(args, target)), 0)
    phone = _phone(args, listen, target.host)
    try:
        await _start(phone)
        call = await phone.call(args.uri)
        try:
            await call.wait_answered(timeout=_RING_TIMEOUT)
        except TimeoutError:
            await call.hangup()
            raise CallFailed(f"no answer within {_RING_TIMEOUT:.0f} s at {call.sip.peer_text}") from None
        except CallError:
            pass   # the reason is reported below
        await _talk(call, args.duration, hang_up_when_played=args.play is not None)
    finally:
        await phone.stop()


async def _peer_address(args: argparse.Namespace, target: SipURI) -> str:
    """The address calls will go to (the registrar's, else the target's), to pick our local
    address on the route there; the host as written when it cannot be found here (the
    phone then reports why)."""
    if args.registrar:
        host, port = args.registrar
        uri = SipURI(host=f"[{host}]" if ":" in host else host,
                     port=None if getattr(args, "registrar_srv", False) else port)
    else:
        uri = target
    with contextlib.suppress(OffhookError):
        for found in await system_resolver(args.dns).locate(uri):
            return found.address
    return uri.host_address


async def _answer(args: argparse.Namespace) -> None:
    phone = _phone(args, args.listen, None)
    try:
        await _start(phone)
        line = next(iter(phone.lines.values()))
        host, port = line.agent.listen_address
        print(f"listening on {_hostport(host, port)}", flush=True)
        tls = line.agent.transport.local.get("TLS")
        if tls is not None and line.agent.ua.contact.transport != "TLS":
            print(f"listening for TLS on {_hostport(*tls)}", flush=True)
        while True:
            event = await phone.next_event()
            if isinstance(event, CallStateChanged) and event.state is CallState.INCOMING:
                call = event.call
                break
        if not args.auto:
            loop = asyncio.get_running_loop()
            print(f"incoming call from {call.party}: press Enter to answer", flush=True)
            text = await loop.run_in_executor(None, sys.stdin.readline)
            if not text or call.state is CallState.ENDED:
                if call.state is not CallState.ENDED:
                    await call.reject()
                raise CallFailed(call.reason or "declined")
        if call.state is CallState.ENDED:
            raise CallFailed(call.reason or f"the caller gave up ({call.status})")
        await call.answer()
        await _talk(call, args.duration, hang_up_when_played=False)
    finally:
        await phone.stop()


async def _talk(call: Call, duration: float | None, *, hang_up_when_played: bool) -> None:
    """From the answer to the end: hang up after `duration`, or once the --play file was sent
    (the caller without --duration), else wait for the far end to hang up."""
    loop = asyncio.get_running_loop()
    answered = loop.time()
    while True:
        while call.state is not CallState.ENDED:
            if duration is not None and loop.time() - answered >= duration:
                await call.hangup()
                break
            if duration is None and hang_up_when_played and call.stats().get("source_done"):
                await asyncio.sleep(0.2)   # let the last packets and the jitter buffer drain
                await call.hangup()
                break
            with contextlib.suppress(TimeoutError):
                await call.wait(CallState.ENDED, timeout=0.1)
        if call.transferred_to is None:
            break
        call = call.transferred_to      # the far side transferred us: carry on (same files)
        with contextlib.suppress(CallError, TimeoutError):
            await call.wait_answered(timeout=_RING_TIMEOUT)
    if call.answered_at is None or call.sip.status != 200 or call.sip.reason:
        raise CallFailed(call.sip.reason or f"call failed ({call.sip.status}) at {call.sip.peer_text}")
