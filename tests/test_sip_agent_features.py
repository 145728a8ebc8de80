"""SipAgent's new entry points over real UDP on 127.0.0.1: dial() locating a host name by
RFC 3263 through dnsmasq (SRV -> A), instant messages (send_message / next_message) and
INFO DTMF (send_info_dtmf -> a "dtmf" event)."""
from __future__ import annotations

import asyncio
import subprocess

import dns_peers
from offhook.sip.agent import SipAgent
from offhook.sip.resolve import DnsResolver
from offhook.sip.ua import CallState
from sip_peers import stop


def start_dnsmasq(sip_port: int) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    return dns_peers.start_dnsmasq([f"--srv-host=_sip._udp.pbx.test,host.pbx.test,{sip_port},10,0",
                                    "--host-record=host.pbx.test,127.0.0.1"], probe="host.pbx.test")


def test_dial_by_name_then_message_and_info_dtmf() -> None:
    async def run() -> None:
        bob = await SipAgent.start(("127.0.0.1", 0), user="bob", transports=("UDP",))
        proc, server = await asyncio.to_thread(start_dnsmasq, bob.transport.local["UDP"][1])
        alice = await SipAgent.start(("127.0.0.1", 0), user="alice", dns_server=server)
        try:
            assert isinstance(alice.ua.resolver, DnsResolver)
            call = await alice.dial("sip:bob@pbx.test", alice.capabilities())
            incoming = await bob.next_incoming(timeout=5)
            assert incoming.invite is not None and str(incoming.invite.uri) == "sip:bob@pbx.test"
            bob.answer(incoming)
            while call.state is not CallState.ESTABLISHED:
                await alice.next_event(call, timeout=5)
            # an instant message in the call, one out of dialog
            alice.send_message(call, "hi bob")
            got = await bob.next_message(timeout=5)
            assert got.kind == "received" and got.message is not None and got.message.text == "hi bob"
            assert got.call is incoming
            assert (await alice.next_message(timeout=5)).kind == "delivered"
            host, port = alice.transport.local["UDP"]
            bob.send_message(f"sip:alice@{host}:{port}", "ok")
            back = await alice.next_message(timeout=5)
            assert back.message is not None and back.message.text == "ok" and back.call is None
            # INFO DTMF
            alice.send_info_dtmf(call, "9")
            while (event := await bob.next_event(incoming, timeout=5)).kind != "dtmf":
                pass
            assert event.digit == "9"
            alice.hangup(call)
            await bob.wait_ended(incoming, timeout=5)
        finally:
            await alice.close()
            await bob.close()
            stop(proc)

    asyncio.run(run())
