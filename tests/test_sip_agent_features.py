"""SipAgent's new entry points over real UDP on 127.0.0.1: dial() locating a host name by
RFC 3263 through dnsmasq (SRV -> A), instant messages (send_message / next_message) and
INFO DTMF (send_info_dtmf -> a "dtmf" event)."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from offhook.errors import DnsError
from offhook.sip.agent import SipAgent
from offhook.sip.resolve import DnsResolver, RType, query
from offhook.sip.ua import CallState
from sip_peers import free_port, stop


def start_dnsmasq(sip_port: int) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    exe = shutil.which("dnsmasq")
    if exe is None:
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
         "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
         f"--srv-host=_sip._udp.pbx.test,host.pbx.test,{sip_port},10,0",
         "--host-record=host.pbx.test,127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while True:
        try:
            asyncio.run(query(server, "host.pbx.test", RType.A, 0.2))
            return proc, server
        except DnsError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                pytest.fail("dnsmasq did not start")


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
