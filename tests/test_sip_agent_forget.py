"""SipAgent.forget over real UDP on 127.0.0.1: a dialer drops each ended call's state (the
core's entry, the event queue, the RTP port entry) so that a long campaign does not grow the
agent; a live call cannot be forgotten."""
from __future__ import annotations

import asyncio

import pytest

from offhook.errors import OffhookError
from offhook.sip.agent import SipAgent
from offhook.sip.ua import CallState


def test_forget_drops_an_ended_calls_state_so_many_calls_do_not_grow_the_agent() -> None:
    """A dialer's pattern: call after call, each forgotten when over; the agent's tables
    (core calls, event queues, RTP port entries) stay empty however many calls were made,
    and a live call cannot be forgotten."""
    async def run() -> None:
        bob = await SipAgent.start(("127.0.0.1", 0), user="bob", transports=("UDP",))
        alice = await SipAgent.start(("127.0.0.1", 0), user="alice", transports=("UDP",))
        bob_port = bob.transport.local["UDP"][1]
        try:
            for _ in range(5):
                call = alice.call(f"sip:bob@127.0.0.1:{bob_port}", alice.capabilities())
                incoming = await bob.next_incoming(timeout=5)
                bob.answer(incoming)
                while call.state is not CallState.ESTABLISHED:
                    await alice.next_event(call, timeout=5)
                assert call.call_id in alice.ua.calls and call.call_id in alice.media_ports
                with pytest.raises(OffhookError, match="cannot forget a call that is established; hang"):
                    alice.forget(call)
                alice.hangup(call)
                await alice.wait_ended(call, timeout=5)
                await bob.wait_ended(incoming, timeout=5)
                alice.forget(call)
                alice.forget(call)         # twice: a no-op
                bob.forget(incoming)
                assert call.call_id not in alice.ua.calls
                assert call.call_id not in alice._call_events and call.call_id not in alice.media_ports
                assert incoming.call_id not in bob.ua.calls and incoming.call_id not in bob._call_events
            assert (len(alice.ua.calls), len(alice._call_events), len(alice.media_ports)) == (0, 0, 0)
            assert (len(bob.ua.calls), len(bob._call_events), len(bob.media_ports)) == (0, 0, 0)
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(run())
