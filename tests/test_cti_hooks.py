"""Call hooks: signed webhooks to a real local server, commands run without a shell."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

import pytest

from offhook.cti.directory import CustomerCard
from offhook.cti.hooks import (
    CallData,
    CommandHook,
    HookRunner,
    WebhookHook,
    sign,
    verify_signature,
)
from test_cti_http import LocalServer, free_port

RECORDER = str(Path(__file__).parent / "data" / "cti" / "hook_recorder.py")
CARD = CustomerCard(name="Ada Lovelace", number="+442079460018", company="AE Ltd", account_id="AE-1",
                    url="https://crm/ada", extra={"tier": "gold"}, source="csv:customers.csv")
T0 = 1_790_000_000.0


def call_data(event="ringing", call_id="call-1", **kw) -> CallData:
    fields = dict(event=event, call_id=call_id, direction="inbound", caller="+442079460018",
                  callee="+4930123456", caller_uri="sip:+442079460018@pbx", callee_uri="sip:agent7@pbx",
                  display_name="Ada", account="agent7", started_at=T0, customer=CARD, lookup_status="found")
    fields.update(kw)
    return CallData(**fields)


async def _fire(hooks, *datas, sleeps=None, **kw):
    async def fake_sleep(seconds):
        if sleeps is not None:
            sleeps.append(seconds)
    runner = HookRunner(hooks, sleep=fake_sleep, **kw)
    counts = [runner.fire(d) for d in datas]
    pending_after_fire = runner.pending
    await runner.aclose(timeout=20)
    return runner, counts, pending_after_fire


def test_call_data_json_and_environment():
    data = call_data("hungup", answered_at=T0 + 5, ended_at=T0 + 65.25, duration=60.25, result="answered",
                     display_name='Ada "; rm -rf / \0 $(id)')
    body = json.loads(data.to_json())
    assert body == {
        "event": "hungup", "call_id": "call-1", "direction": "inbound",
        "caller": "+442079460018", "callee": "+4930123456",
        "caller_uri": "sip:+442079460018@pbx", "callee_uri": "sip:agent7@pbx",
        "display_name": 'Ada "; rm -rf / \0 $(id)', "account": "agent7",
        "started_at": "2026-09-21T14:13:20.000Z", "answered_at": "2026-09-21T14:13:25.000Z",
        "ended_at": "2026-09-21T14:14:25.250Z", "duration": 60.25, "result": "answered",
        "customer": {"name": "Ada Lovelace", "number": "+442079460018", "company": "AE Ltd",
                     "account_id": "AE-1", "notes": None, "url": "https://crm/ada", "extra": {"tier": "gold"},
                     "source": "csv:customers.csv"},
        "lookup_status": "found",
    }
    env = data.environ()
    assert env["OFFHOOK_DISPLAY_NAME"] == 'Ada "; rm -rf /  $(id)'   # NUL cannot be in the environment
    assert env["OFFHOOK_DURATION"] == "60.25"
    assert env["OFFHOOK_CUSTOMER_NAME"] == "Ada Lovelace"
    assert env["OFFHOOK_CUSTOMER_NOTES"] == ""
    assert env["OFFHOOK_STARTED_AT"] == "2026-09-21T14:13:20.000Z"


def test_signature_helpers_match_an_independent_hmac():
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1790000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", "1790000000", body) == "sha256=" + expected
    sig = sign("s3cret", "1790000000", body)
    assert verify_signature("s3cret", body, "1790000000", sig, now=T0 + 100)
    assert not verify_signature("other", body, "1790000000", sig, now=T0)
    assert not verify_signature("s3cret", body + b" ", "1790000000", sig, now=T0)
    assert not verify_signature("s3cret", body, "1790000000", sig, now=T0 + 301)   # replayed later
    assert not verify_signature("s3cret", body, "yesterday", sig, now=T0)


def test_webhook_posts_signed_json_to_a_real_server():
    with LocalServer(lambda req: (204, {}, b"")) as server:
        hook = WebhookHook(server.url + "/calls", secret="s3cret", headers={"X-Tenant": "acme"})
        runner, counts, _ = asyncio.run(_fire([hook], call_data(), clock=lambda: T0))
    assert counts == [1]
    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/calls")
    assert json.loads(req.body) == json.loads(call_data().to_json())
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-offhook-event"] == "ringing"
    assert req.headers["x-tenant"] == "acme"
    assert req.headers["x-offhook-timestamp"] == "1790000000"
    digest = hmac.new(b"s3cret", b"1790000000." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-offhook-signature"] == f"sha256={digest}"
    assert verify_signature("s3cret", req.body, req.headers["x-offhook-timestamp"],
                            req.headers["x-offhook-signature"], now=T0)
    (result,) = runner.results
    assert (result.ok, result.status, result.attempts, result.hook) == (True, 204, 1, "webhook:127.0.0.1")


def test_webhook_without_secret_is_unsigned_and_events_filter():
    with LocalServer() as server:
        hook = WebhookHook(server.url + "/", events=frozenset({"hungup"}))
        _, counts, _ = asyncio.run(_fire([hook], call_data("ringing"), call_data("answered"),
                                         call_data("hungup")))
    assert counts == [0, 0, 1]
    (req,) = server.requests
    assert "x-offhook-signature" not in req.headers
    assert json.loads(req.body)["event"] == "hungup"


def test_webhook_retries_server_errors_with_backoff_and_one_delivery_id():
    answers = iter([(500, {}, b""), (429, {"Retry-After": "0"}, b""), (503, {"Retry-After": "1"}, b""),
                    (200, {}, b"ok")])
    sleeps: list[float] = []
    with LocalServer(lambda req: next(answers)) as server:
        hook = WebhookHook(server.url + "/", secret="k", retries=3, backoff=0.5)
        runner, _, _ = asyncio.run(_fire([hook], call_data(), sleeps=sleeps))
    assert len(server.requests) == 4
    assert len({r.headers["x-offhook-delivery"] for r in server.requests}) == 1
    assert sleeps == [0.5, 1.0, 1.0]   # doubled; the third capped by Retry-After: 1
    (result,) = runner.results
    assert (result.ok, result.attempts, result.status) == (True, 4, 200)


def test_webhook_gives_up_after_retries_and_not_on_client_errors():
    with (LocalServer(lambda req: (502, {}, b"")) as failing,
          LocalServer(lambda req: (400, {}, b"")) as refusing):
        hooks = [WebhookHook(failing.url + "/", retries=2, name="flaky"),
                 WebhookHook(refusing.url + "/", retries=5, name="strict")]
        runner, _, _ = asyncio.run(_fire(hooks, call_data(), sleeps=[]))
    by_name = {r.hook: r for r in runner.results}
    assert (by_name["flaky"].ok, by_name["flaky"].attempts, by_name["flaky"].error) == \
        (False, 3, "answered 502 Bad Gateway")
    assert (by_name["strict"].ok, by_name["strict"].attempts, by_name["strict"].error) == \
        (False, 1, "answered 400 Bad Request")
    assert (len(failing.requests), len(refusing.requests)) == (3, 1)


def test_webhook_unreachable_or_slow_is_reported_not_raised():
    with LocalServer() as slow:
        slow.delay = 1.0
        hooks = [WebhookHook(f"http://127.0.0.1:{free_port()}/", retries=1, name="down"),
                 WebhookHook(slow.url + "/", timeout=0.2, retries=0, name="slow")]
        runner, _, _ = asyncio.run(_fire(hooks, call_data(), sleeps=[]))
    by_name = {r.hook: r for r in runner.results}
    assert by_name["down"].attempts == 2 and "ConnectionRefusedError" in by_name["down"].error
    assert by_name["slow"].error == "no complete answer within 0.2 s"


def test_fire_returns_at_once_and_keeps_each_calls_events_in_order():
    def answer(req):
        if json.loads(req.body)["event"] == "ringing":
            time.sleep(0.3)     # the ringing POST is slow; answered must still arrive after it
        return 200, {}, b""

    async def go(server):
        runner = HookRunner([WebhookHook(server.url + "/")])
        runner.fire(call_data("ringing", "A"))
        runner.fire(call_data("answered", "A"))
        runner.fire(call_data("ringing", "B"))
        pending, answered_yet = runner.pending, server.answered
        await runner.aclose()
        return pending, answered_yet

    with LocalServer(answer) as server:
        pending, answered_yet = asyncio.run(go(server))
    assert (pending, answered_yet) == (3, 0)    # fire() returned before any POST was answered
    order = [(json.loads(r.body)["call_id"], json.loads(r.body)["event"]) for r in server.requests]
    assert order.index(("A", "ringing")) < order.index(("A", "answered"))
    assert len(order) == 3


def test_pending_deliveries_are_bounded():
    with LocalServer() as server:
        server.delay = 0.2
        runner, counts, _ = asyncio.run(_fire([WebhookHook(server.url + "/")],
                                              *(call_data(call_id=str(i)) for i in range(5)), max_pending=2))
    assert counts == [1, 1, 0, 0, 0]
    dropped = [r for r in runner.results if not r.ok]
    assert len(dropped) == 3 and dropped[0].error == "dropped: too many deliveries pending"
    assert len(server.requests) == 2


def test_command_gets_json_on_stdin_and_environment_without_a_shell(tmp_path):
    record = tmp_path / "record.jsonl"
    hook = CommandHook((sys.executable, RECORDER, "; echo pwned", "$(id)", "*"),
                       env={"RECORD_TO": str(record)})
    nasty = call_data(display_name="Bob'; touch /tmp/x; echo '$HOME`id`")
    runner, counts, _ = asyncio.run(_fire([hook], nasty))
    assert counts == [1]
    (got,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert got["argv"] == ["; echo pwned", "$(id)", "*"]        # passed literally, no shell
    assert json.loads(got["stdin"]) == json.loads(nasty.to_json())
    assert got["env"]["OFFHOOK_DISPLAY_NAME"] == "Bob'; touch /tmp/x; echo '$HOME`id`"
    assert got["env"]["OFFHOOK_CALLER"] == "+442079460018"
    assert got["env"]["OFFHOOK_CUSTOMER_COMPANY"] == "AE Ltd"
    assert got["env"]["OFFHOOK_EVENT"] == "ringing"
    (result,) = runner.results
    assert (result.ok, result.status, result.stdout, result.stderr) == (True, 0, b"recorded ringing\n", b"")
    assert result.hook == f"command:{Path(sys.executable).name}"


def test_command_failure_timeout_output_limit_and_missing_program(tmp_path):
    hooks = [
        CommandHook((sys.executable, RECORDER, "--fail"), name="fails"),
        CommandHook((sys.executable, RECORDER, "--sleep", "30"), timeout=0.5, name="hangs"),
        CommandHook((sys.executable, RECORDER, "--spew", "100000"), max_output=1000, name="chatty"),
        CommandHook((str(tmp_path / "no-such-program"),), name="missing"),
        CommandHook((sys.executable, "-c",
                     "import os; print(sorted(k for k in os.environ if k.startswith('X')))"),
                    inherit_env=False, env={"XYZ": "1"}, name="clean-env"),
    ]
    runner, _, _ = asyncio.run(_fire(hooks, call_data()))
    r = {x.hook: x for x in runner.results}
    assert (r["fails"].ok, r["fails"].status) == (False, 3)
    assert r["fails"].error == "exited with status 3: something went wrong\n"
    assert (r["hangs"].ok, r["hangs"].error) == (False, "killed after 0.5 s")
    assert r["chatty"].ok and len(r["chatty"].stdout) == 1000
    assert not r["missing"].ok
    assert r["missing"].error.startswith(f"cannot run {tmp_path / 'no-such-program'}:")
    assert r["clean-env"].stdout == b"['XYZ']\n"


def test_a_command_that_ignores_stdin_is_fine():
    hook = CommandHook((sys.executable, "-c", "print('no stdin read')"))
    big = call_data(display_name="x" * 200_000)
    runner, _, _ = asyncio.run(_fire([hook], big))
    (result,) = runner.results
    assert (result.ok, result.stdout) == (True, b"no stdin read\n")


def test_hook_results_reach_the_callback():
    seen = []
    with LocalServer() as server:
        asyncio.run(_fire([WebhookHook(server.url + "/")], call_data(), on_result=seen.append))
    assert [(r.ok, r.event, r.call_id) for r in seen] == [(True, "ringing", "call-1")]


@pytest.mark.parametrize("bad", [lambda r: 1 / 0])
def test_a_failing_result_callback_does_not_break_delivery(bad):
    with LocalServer() as server:
        runner, _, _ = asyncio.run(_fire([WebhookHook(server.url + "/")], call_data(), on_result=bad))
    assert runner.results[0].ok
