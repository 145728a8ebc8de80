"""What the phone needs from the SIP agent that its public API does not offer yet.

Every use of the user agent's internals is here, in one small module, so it can be
replaced by the agent's own methods once they exist (REFER/NOTIFY and INVITE headers
are being wired into sip/ua.py and sip/agent.py):

- `send_in_dialog(agent, call, method, ...)`: an in-dialog request (REFER, NOTIFY,
  INFO) through the call's dialog and the agent's transaction layer. Its response
  is not reported back (the core ignores responses to methods it did not send);
  REFER progress arrives as NOTIFYs, which reach the phone through `method_handlers`.
- `redirect(agent, call, target)`: answer an unanswered incoming INVITE with
  302 Moved Temporarily and `Contact: <target>` (call forwarding); `ua.reject()`
  cannot add the Contact header.
- `call_with_headers(agent, target, caps, headers, ...)`: an outgoing INVITE with extra
  headers (Replaces, Referred-By) when the agent supports them, else without them.
"""
from __future__ import annotations

import logging

from offhook.errors import OffhookError
from offhook.sdp import MediaCapabilities
from offhook.sip.agent import SipAgent
from offhook.sip.auth import DigestClient
from offhook.sip.dialog import DialogState
from offhook.sip.message import Request
from offhook.sip.transaction import ServerInviteTransaction
from offhook.sip.ua import Call as SipCall
from offhook.sip.ua import CallState as SipCallState
from offhook.sip.ua import Output

__all__ = ["call_with_headers", "redirect", "send_in_dialog"]

log = logging.getLogger("offhook.phone")
Address = tuple[str, int]


def _now(agent: SipAgent) -> float:
    return agent._loop.time()


def send_in_dialog(agent: SipAgent, call: SipCall, method: str, *, body: bytes = b"",
                   content_type: str | None = None,
                   headers: list[tuple[str, str]] | None = None) -> Request:
    """Send `method` in the call's dialog; returns the request (its CSeq names REFER subscriptions)."""
    dialog = call.dialog
    if dialog is None or dialog.state is DialogState.TERMINATED or call.state is SipCallState.ENDED:
        raise OffhookError(f"cannot send {method}: the call has no live dialog")
    ua = agent.ua
    extra = list(headers or [])
    for name, value in extra:
        if name.lower() in ("content-type", "c"):
            content_type = value
    extra = [(n, v) for n, v in extra if n.lower() not in ("content-type", "c")]
    req = dialog.new_request(method, ua._contact(call.transport), body=body, content_type=content_type,
                             extra_headers=[*extra, ("User-Agent", ua.user_agent)])
    if call._auth is not None:
        call._auth.authorize(req)
    address, _ = ua.resolver(dialog.next_hop())
    now = _now(agent)
    _, actions = ua.transactions.send_request(req, address, call.transport, now)
    out: list[Output] = []
    ua._handle(actions, now, out)
    agent._run(out)
    return req


def redirect(agent: SipAgent, call: SipCall, target: str, status: int = 302) -> None:
    """Answer the unanswered incoming call with a 3xx naming `target` (forwarding)."""
    tx = call._invite_tx
    if call.outgoing or call.state not in (SipCallState.INCOMING, SipCallState.EARLY) or \
            not isinstance(tx, ServerInviteTransaction):
        raise OffhookError(f"cannot forward a call that is {call.state.value}")
    ua = agent.ua
    resp = ua._reply(call, tx.request, status)
    resp.add_header("Contact", f"<{target}>")
    now = _now(agent)
    out: list[Output] = []
    ua._respond(tx, resp, now, out)
    ua._end(call, status, f"forwarded to {target}", out, remote=False)
    agent._run(out)


def call_with_headers(agent: SipAgent, target: str, caps: MediaCapabilities,
                      headers: list[tuple[str, str]], *, auth: DigestClient | None = None,
                      via: Address | None = None) -> SipCall:
    """agent.call() with extra INVITE headers (Replaces, Referred-By). The agent takes
    none yet, so they are added to the INVITE the core builds, just before it is sent
    (an authenticated retry copies them from the first INVITE)."""
    if not headers:
        return agent.call(target, caps, auth=auth, via=via)
    ua = agent.ua
    original = ua._send_invite

    def with_headers(call: SipCall, req: Request, now: float, out: list[Output]) -> None:
        for name, value in headers:
            req.add_header(name, value)
        original(call, req, now, out)

    setattr(ua, "_send_invite", with_headers)  # noqa: B010 - an instance attribute, for this call only
    try:
        return agent.call(target, caps, auth=auth, via=via)
    finally:
        delattr(ua, "_send_invite")
