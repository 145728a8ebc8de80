"""`offhook call` and `offhook answer`: one call, no interaction, for scripts and tests.

    offhook call URI [--user U --password P --registrar HOST:PORT] [--listen ADDR:PORT]
                     [--play in.wav] [--record out.wav] [--duration S] [--audio null]
    offhook answer   [--listen ADDR:PORT] [--auto] [--play in.wav] [--record out.wav] [--duration S]
                     [--user U --password P --registrar HOST:PORT]   (an extension)

Exit status 0 when the call was established and ended normally (either side hung
up); otherwise 1 with a one-line reason on stderr, e.g.
`busy (486) at 127.0.0.1:5070` or `authentication failed (401) at 127.0.0.1:5060`.
Usage errors exit 2. `offhook answer` prints `listening on HOST:PORT` on stdout
first (so a script can start it on port 0), handles one call and exits.

A REFER from the far side (transfer) is followed: the call to the transfer target
takes over, with the same --play/--record files and --duration.

How long a call lasts: --duration S hangs up S seconds after the answer;
without it, the caller hangs up when its --play file has been sent (else it
waits for the far end), and the answerer waits for the far end's BYE.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from offhook.errors import OffhookError
from offhook.sip.agent import SipAgent, local_address_towards
from offhook.sip.auth import Credentials, DigestClient
from offhook.sip.register import Registration, RegState
from offhook.sip.ua import Call, CallState
from offhook.sip.uri import SipURI, parse_uri

__all__ = ["add_parsers", "run_answer", "run_call"]

Address = tuple[str, int]
_RING_TIMEOUT = 120.0


class CallFailed(OffhookError):
    """The call did not happen or ended abnormally; str() is the one-line reason."""


def host_port(text: str, default_port: int | None = None) -> Address:
    """"127.0.0.1:5060", "[::1]:5060", or a bare host when default_port is given."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise argparse.ArgumentTypeError(f"{text!r} needs a port: HOST:PORT")
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}: want 0..65535")
    return host, int(port_text)


def _listen(text: str) -> Address:
    return host_port(text, 0)


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
    parser.add_argument("--registrar", type=lambda t: host_port(t, 5060), metavar="HOST:PORT",
                        help=registrar_help)


def _media_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--play", metavar="in.wav", help="WAV to send once the call is up")
    parser.add_argument("--record", metavar="out.wav", help="record what the far end sends")
    parser.add_argument("--duration", type=_duration, metavar="S",
                        help="hang up S seconds after the answer")


@dataclass
class _Media:
    play: str | None
    record: str | None


def run_call(args: argparse.Namespace) -> int:
    if args.audio != "null":
        return _fail(f"--audio {args.audio}: only the null device is supported by offhook call yet")
    if (args.user is None) != (args.password is None):
        return _fail("--user and --password go together")
    try:
        asyncio.run(_call(args))
    except CallFailed as exc:
        return _fail(str(exc))
    except OffhookError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0


def run_answer(args: argparse.Namespace) -> int:
    if (args.user is None) != (args.password is None):
        return _fail("--user and --password go together")
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


async def _call(args: argparse.Namespace) -> None:
    target = parse_uri(args.uri)
    if not isinstance(target, SipURI):
        raise CallFailed(f"cannot call {args.uri}: only sip: and sips: URIs are supported")
    peer_host = args.registrar[0] if args.registrar else target.host_address
    listen = args.listen or (local_address_towards(peer_host), 0)
    agent = await SipAgent.start(listen, user=args.user)
    auth = DigestClient(Credentials(args.user, args.password)) if args.user else None
    try:
        if args.registrar is not None:
            await _register(agent, args, auth)
        elif args.user:
            agent.ua.identity = SipURI(host=target.host, user=args.user)
        caps = agent.capabilities()
        call = agent.call(args.uri, caps, auth=auth, via=args.registrar)
        await _run_call(agent, call, _Media(args.play, args.record), args.duration, caller=True)
    finally:
        await agent.close()


async def _register(agent: SipAgent, args: argparse.Namespace, auth: DigestClient | None) -> None:
    if args.user is None:
        raise CallFailed("--registrar needs --user and --password")
    aor = SipURI(host=args.registrar[0], user=args.user, port=args.registrar[1])
    agent.ua.identity = aor
    reg = Registration(aor, args.registrar, agent.ua.contact, expires=300, auth=auth)
    try:
        await agent.register(reg)
    except TimeoutError:
        raise CallFailed(f"no answer from the registrar at {reg.peer}") from None
    if reg.state is not RegState.REGISTERED:
        raise CallFailed(reg.reason)


async def _answer(args: argparse.Namespace) -> None:
    agent = await SipAgent.start(args.listen, user=args.user)
    host, port = agent.transport.local["UDP"]
    try:
        if args.registrar is not None:
            auth = DigestClient(Credentials(args.user, args.password)) if args.user else None
            await _register(agent, args, auth)
        print(f"listening on {host}:{port}", flush=True)
        call = await agent.next_incoming()
        agent.ring(call)
        if not args.auto:
            loop = asyncio.get_running_loop()
            print(f"incoming call from {call.invite.from_ if call.invite else '?'}: press Enter to answer",
                  flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or call.state is CallState.ENDED:
                if call.state is not CallState.ENDED:
                    agent.reject(call, 603)
                raise CallFailed(call.reason or "declined")
        if call.state is CallState.ENDED:
            raise CallFailed(call.reason or f"the caller gave up ({call.status})")
        agent.answer(call)
        await _run_call(agent, call, _Media(args.play, args.record), args.duration, caller=False)
    finally:
        await agent.close()


async def _run_call(agent: SipAgent, call: Call, media_files: _Media, duration: float | None,
                    *, caller: bool) -> None:
    from offhook.engine import MediaEngine
    from offhook.media.call_media import CallMedia

    engine = MediaEngine(sample_rate=16000, ptime=20)
    media = CallMedia(engine, (agent.ua.contact.host, agent.media_ports[call.call_id]),
                      play=media_files.play, record=media_files.record)
    loop = asyncio.get_running_loop()
    answered_at: float | None = None
    try:
        if not caller and call.media is not None:
            media.apply(call.media)
            answered_at = loop.time()
        while True:
            if call.state is CallState.ENDED:
                break
            if answered_at is not None:
                if duration is not None and loop.time() - answered_at >= duration:
                    agent.hangup(call)
                    continue
                if duration is None and caller and media_files.play is not None and media.played:
                    await asyncio.sleep(0.2)   # let the last packets and the jitter buffer drain
                    agent.hangup(call)
                    continue
            try:
                wait = 0.1 if answered_at is not None else _RING_TIMEOUT
                event = await agent.next_event(call, timeout=wait)
            except TimeoutError:
                if answered_at is None:
                    agent.hangup(call)
                    raise CallFailed(f"no answer within {_RING_TIMEOUT:.0f} s at {call.peer_text}") from None
                continue
            if event.kind == "transferred" and event.other is not None:
                # the far side referred us elsewhere: the new call carries on (same files)
                call = event.other
                media.close()
                media = CallMedia(engine, (agent.ua.contact.host, agent.media_ports[call.call_id]),
                                  play=media_files.play, record=media_files.record)
                answered_at = None
                continue
            if event.kind == "media" and call.media is not None:
                media.apply(call.media)   # early media (183) too
            if event.kind in ("answered", "media") and call.state is not CallState.EARLY \
                    and answered_at is None:
                answered_at = loop.time()
            elif event.kind == "ended":
                break
        if answered_at is None or call.status != 200 or call.reason:
            raise CallFailed(call.reason or f"call failed ({call.status}) at {call.peer_text}")
    finally:
        media.close()
        engine.close()
