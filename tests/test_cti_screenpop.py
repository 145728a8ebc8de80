"""Screen pop end to end: call events → number → directory (CSV + a real local HTTP CRM) →
ScreenPop events for front-ends, and hooks (a real webhook receiver and a real command)."""
from __future__ import annotations

import asyncio
import enum
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from offhook.cti import (
    CallSnapshot,
    CtiService,
    ScreenPop,
    event_for_state,
    load_config,
    parse_config,
    verify_signature,
)
from offhook.cti.hooks import CommandHook, HookRunner, WebhookHook
from test_cti_http import LocalServer

DATA = Path(__file__).parent / "data" / "cti"
RECORDER = str(DATA / "hook_recorder.py")
T0 = 1_790_000_000.0


@dataclass
class FakeCall:
    """Shaped like the phone's Call as CTI sees it (mutable: the phone updates it)."""

    call_id: str
    remote_uri: str
    direction: str = "inbound"
    display_name: str | None = None
    account: str | None = "agent7"
    state: object = "ringing"
    started_at: float | None = T0
    answered_at: float | None = None
    ended_at: float | None = None
    local_uri: str | None = "sip:+4930555000@pbx.example"


def crm(req):
    if "%2B442079460018" in req.path:
        return 200, {}, json.dumps({"name": "Ada Lovelace", "company": "AE Ltd", "id": "A1"}).encode()
    return 404, {}, b""


def config_text(server_url: str, hook_url: str, record: Path, **cti: object) -> str:
    settings = {"lookup_timeout": 2.0, **cti}
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    return f"""
[cti]
default_country = "DE"
{extra}
[[cti.directory]]
type = "csv"
path = "{DATA / 'customers.csv'}"
columns = {{ number = ["Phone", "Mobile"], name = "Customer", company = "Company", account_id = "Account" }}

[[cti.directory]]
type = "http"
url = "{server_url}/lookup?number={{caller}}"
fields = {{ account_id = "id" }}

[[cti.hooks]]
type = "webhook"
url = "{hook_url}/calls"
secret = "s3cret"
retries = 0

[[cti.hooks]]
type = "command"
argv = ["{sys.executable}", "{RECORDER}"]
env = {{ RECORD_TO = "{record}" }}
events = ["hungup"]
"""


async def _call_flow(cti: CtiService, call: FakeCall, pops: list[ScreenPop], *, answer: bool = True):
    first = cti.call_event(call)
    await asyncio.sleep(0.3)
    if answer:
        call.state, call.answered_at = "answered", T0 + 4
        cti.call_event(call)
    call.state, call.ended_at = "ended", T0 + 64
    cti.call_event(call)
    await cti.drain(10)
    return first


def test_a_ringing_call_pops_the_card_and_fires_every_hook(tmp_path):
    record = tmp_path / "record.jsonl"
    pops: list[ScreenPop] = []

    async def go(server, receiver):
        cti = CtiService.from_config(parse_config(config_text(server.url, receiver.url, record)))
        cti.subscribe(pops.append)
        call = FakeCall("c1", '"Ada" <sip:+44-20-7946-0018@pbx.example;user=phone>', display_name="Ada")
        first = await _call_flow(cti, call, pops)
        still_active = cti.latest("c1")
        await cti.aclose()
        return first, still_active

    with LocalServer(crm) as server, LocalServer(lambda req: (200, {}, b"")) as receiver:
        first, still_active = asyncio.run(go(server, receiver))

    assert first is pops[0]
    assert (first.lookup, first.final, first.card, first.number) == ("pending", False, None, "+442079460018")
    assert [(p.lookup, p.final) for p in pops] == [("pending", False), ("found", True)]
    card = pops[1].card
    assert (card.name, card.company, card.account_id, card.source) == \
        ("Ada Lovelace", "AE Ltd", "A1", "http:127.0.0.1")
    assert pops[1].to_dict()["card"]["name"] == "Ada Lovelace"
    assert still_active is None   # forgotten once hung up

    posts = [json.loads(r.body) for r in receiver.requests]
    assert [p["event"] for p in posts] == ["ringing", "answered", "hungup"]
    for req in receiver.requests:
        assert verify_signature("s3cret", req.body, req.headers["x-offhook-timestamp"],
                                req.headers["x-offhook-signature"])
    ringing, answered, hungup = posts
    assert (ringing["caller"], ringing["callee"], ringing["direction"]) == \
        ("+442079460018", "+4930555000", "inbound")
    assert ringing["customer"]["name"] == "Ada Lovelace" and ringing["lookup_status"] == "found"
    assert (ringing["answered_at"], ringing["duration"], ringing["result"]) == (None, None, None)
    assert answered["answered_at"] == "2026-09-21T14:13:24.000Z"
    assert (hungup["duration"], hungup["result"], hungup["ended_at"]) == \
        (60.0, "answered", "2026-09-21T14:14:24.000Z")

    (ran,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert ran["env"]["OFFHOOK_EVENT"] == "hungup"
    assert ran["env"]["OFFHOOK_CUSTOMER_NAME"] == "Ada Lovelace"
    assert json.loads(ran["stdin"]) == hungup


def test_csv_customer_missed_call_and_unknown_caller(tmp_path):
    pops: list[ScreenPop] = []

    async def go(server, receiver):
        text = config_text(server.url, receiver.url, tmp_path / "r.jsonl")
        cti = CtiService.from_config(parse_config(text))
        cti.subscribe(pops.append)
        await _call_flow(cti, FakeCall("csv", "sip:0171-2345678@pbx"), pops, answer=False)
        await _call_flow(cti, FakeCall("unknown", "sip:+4930999999@pbx"), pops, answer=False)
        await _call_flow(cti, FakeCall("anon", "sip:anonymous@anonymous.invalid"), pops, answer=False)
        await cti.aclose()

    with LocalServer(crm) as server, LocalServer() as receiver:
        asyncio.run(go(server, receiver))
    final = {p.call_id: p for p in pops if p.final}
    assert (final["csv"].card.name, final["csv"].card.account_id) == ("Max Mustermann", "MG-042")
    assert (final["unknown"].lookup, final["unknown"].card) == ("not_found", None)
    assert (final["anon"].lookup, final["anon"].number) == ("no_number", None)
    assert final["anon"].number_error == "the caller is anonymous (no number given)"
    bodies = [json.loads(r.body) for r in receiver.requests]
    hungup = {b["call_id"]: b for b in bodies if b["event"] == "hungup"}
    assert (hungup["csv"]["result"], hungup["csv"]["duration"]) == ("missed", 0.0)
    assert hungup["csv"]["customer"]["name"] == "Max Mustermann"
    assert (hungup["anon"]["caller"], hungup["anon"]["caller_uri"], hungup["anon"]["lookup_status"]) == \
        (None, "sip:anonymous@anonymous.invalid", "no_number")
    assert sorted((b["call_id"], b["event"]) for b in bodies) == [
        ("anon", "hungup"), ("anon", "ringing"), ("csv", "hungup"), ("csv", "ringing"),
        ("unknown", "hungup"), ("unknown", "ringing")]


def test_slow_crm_never_delays_ringing_and_a_late_card_updates_the_pop(tmp_path):
    pops: list[tuple[float, ScreenPop]] = []  # (when, pop)

    async def go(server, receiver):
        cfg = parse_config(config_text(server.url, receiver.url, tmp_path / "r.jsonl",
                                       lookup_timeout=0.2, late_timeout=5))
        cti = CtiService.from_config(cfg)
        cti.subscribe(lambda pop: pops.append((time.monotonic(), pop)))
        call = FakeCall("slow", "tel:+44 20 7946 0018")
        first = cti.call_event(call)
        before_answer = (len(pops), server.answered)
        await asyncio.sleep(1.0)
        call.state, call.answered_at = "answered", T0 + 2
        cti.call_event(call)
        call.state, call.ended_at = "ended", T0 + 3
        cti.call_event(call)
        await cti.drain(10)
        await cti.aclose()
        return first, before_answer

    with LocalServer(crm) as server, LocalServer() as receiver:
        server.delay = 0.5
        first, before_answer = asyncio.run(go(server, receiver))
    assert first.lookup == "pending" and before_answer == (1, 0)   # returned before the CRM answered
    assert [p.lookup for _, p in pops] == ["pending", "timeout", "found"]
    assert pops[1][1].lookup_error == "no answer within 0.2 s"
    assert pops[2][1].card.name == "Ada Lovelace" and pops[2][1].event == "ringing"
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [(b["event"], b["lookup_status"]) for b in bodies] == [
        ("ringing", "timeout"), ("answered", "found"), ("hungup", "found")]
    assert bodies[2]["customer"]["name"] == "Ada Lovelace"
    assert len(server.requests) == 1


class State(enum.Enum):
    INCOMING = 1
    CONNECTED = 2
    HOLDING = 3
    DISCONNECTED = 4


def test_state_spellings_duplicates_and_outbound_calls():
    assert [event_for_state(s) for s in ("early", "Established", State.INCOMING, State.HOLDING,
                                         State.DISCONNECTED, "busy", 7, None)] == \
        ["ringing", "answered", "ringing", None, "hungup", "hungup", None, None]
    fired = []

    async def go():
        runner = HookRunner([WebhookHook("http://127.0.0.1:9/unused")])
        runner.fire = lambda data: fired.append(data) or 1  # type: ignore[method-assign]
        cti = CtiService(parse_config("[cti]\npop_outbound = false\ndefault_country = 'GB'"), hooks=runner)
        pops: list[ScreenPop] = []
        cti.subscribe(pops.append)
        out = FakeCall("o1", "sip:020 7946 0018@pbx", direction="outgoing", state=State.INCOMING)
        cti.call_event(out)
        cti.call_event(out)                         # a second 180 Ringing: nothing new
        out.state = State.HOLDING
        assert cti.call_event(out) is None
        out.state, out.ended_at = State.DISCONNECTED, T0 + 9
        cti.call_event(out)
        cti.call_event(out)
        weird = FakeCall("w1", "sip:+442079460018@pbx", direction="sideways")
        ignored = cti.call_event(weird)
        hung_first = FakeCall("h1", "sip:+442079460018@pbx", state="terminated", ended_at=T0 + 1)
        cti.call_event(hung_first)                  # never heard ringing: both hooks still fire, in order
        await cti.drain(5)
        await cti.aclose()
        return pops, ignored

    pops, ignored = asyncio.run(go())
    assert ignored is None
    assert [p.call_id for p in pops] == ["h1"]      # no pops for outbound calls when pop_outbound = false
    assert pops[0].lookup == "off"                  # no directory configured
    assert [d.event for d in fired if d.call_id == "o1"] == ["ringing", "hungup"]
    assert [d.event for d in fired if d.call_id == "h1"] == ["ringing", "hungup"]
    out_hungup = [d for d in fired if d.call_id == "o1"][1]
    assert (out_hungup.direction, out_hungup.caller, out_hungup.callee, out_hungup.result) == \
        ("outbound", "+4930555000", "+442079460018", "unanswered")
    assert out_hungup.lookup_status == "off"


def test_snapshot_reads_datetimes_and_enum_states():
    import datetime as dt
    call = FakeCall("d1", "sip:+4930123456@x", state=State.CONNECTED,
                    started_at=dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC))  # type: ignore[arg-type]
    snap = CallSnapshot.of(call)
    assert (snap.state, snap.started_at, snap.local_uri) == ("connected", T0, "sip:+4930555000@pbx.example")


def test_a_broken_subscriber_or_call_object_never_raises_into_the_phone():
    async def go():
        cti = CtiService()
        cti.subscribe(lambda pop: 1 / 0)
        seen: list[ScreenPop] = []
        unsubscribe = cti.subscribe(seen.append)
        pop = cti.call_event(FakeCall("b1", "sip:+4930123456@x"))
        unsubscribe()
        cti.call_event(FakeCall("b2", "sip:+4930123457@x"))
        broken = cti.call_event(object())  # type: ignore[arg-type]
        await cti.aclose()
        return pop, seen, broken

    pop, seen, broken = asyncio.run(go())
    assert pop is not None and pop.lookup == "off" and seen == [pop]
    assert broken is None


def test_disabled_or_config_file_service(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[cti]\nenabled = false\n", encoding="utf-8")

    async def go():
        cti = CtiService.from_config(load_config(path))
        result = cti.call_event(FakeCall("x", "sip:+4930123456@x"))
        await cti.aclose()
        return result, cti.directory, cti.hooks

    assert asyncio.run(go()) == (None, None, None)


def test_command_hook_built_directly_sees_the_same_data(tmp_path):
    record = tmp_path / "r.jsonl"

    async def go():
        hooks = HookRunner([CommandHook((sys.executable, RECORDER), env={"RECORD_TO": str(record)})])
        cti = CtiService(parse_config("[cti]\ndefault_country = 'DE'"), hooks=hooks)
        call = FakeCall("k1", "sip:030123456@pbx", display_name="Max")
        cti.call_event(call)
        await cti.drain(10)
        await cti.aclose()

    asyncio.run(go())
    (ran,) = [json.loads(line) for line in record.read_text().splitlines()]
    env = ran["env"]
    assert (env["OFFHOOK_CALLER"], env["OFFHOOK_DISPLAY_NAME"], env["OFFHOOK_EVENT"]) == \
        ("+4930123456", "Max", "ringing")


def test_console_line_and_events_from_another_thread():
    import threading
    pops: list[ScreenPop] = []

    async def go():
        cti = CtiService.from_config(parse_config(
            f'[cti]\ndefault_country = "DE"\n[[cti.directory]]\ntype = "csv"\n'
            f'path = "{DATA / "customers.csv"}"\n'
            'columns = { number = "Phone", name = "Customer", company = "Company", '
            'account_id = "Account" }\n'))
        cti.subscribe(pops.append)
        loop = asyncio.get_running_loop()
        worker = threading.Thread(target=cti.call_event_threadsafe,
                                  args=(loop, FakeCall("t1", "sip:030123456@pbx", display_name="Max")))
        worker.start()
        worker.join()
        await asyncio.sleep(0)
        await cti.drain(5)
        await cti.aclose()

    asyncio.run(go())
    assert [p.describe() for p in pops] == [
        "incoming call from +4930123456 (Max) — looking up…",
        "incoming call from +4930123456 (Max) — Max Mustermann, Muster GmbH, account MG-042",
    ]
    unknown = ScreenPop("x", "ringing", "outbound", "sip:alice@example.com", None, None, None, "no_number")
    assert unknown.describe() == "calling sip:alice@example.com — no number to look up"
