"""The phone's own screen pops: `[cti]` in config.toml gives the Phone a CtiService that sees
every call; an incoming call from a number in the CSV directory pops the customer's card
before anyone answers (two Phones on loopback; the caller's identity is a real From header)."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from offhook.cti import ScreenPop
from offhook.phone import CallState, Phone, PhoneConfig
from offhook.phone.config import AccountConfig, parse_config
from phone_helpers import uri_of

DATA = Path(__file__).parent / "data" / "cti"


def test_an_incoming_call_pops_the_customer_card_before_it_is_answered(tmp_path: Path) -> None:
    shutil.copy(DATA / "customers.csv", tmp_path / "customers.csv")
    config = parse_config('''
[cti]
default_country = "GB"
[[cti.directory]]
type = "csv"
path = "customers.csv"
columns = { number = ["Phone", "Mobile"], name = "Customer", company = "Company" }
[web]
listen = "127.0.0.1:8080"
''', base=tmp_path)
    assert config.cti is not None and config.web == {"listen": "127.0.0.1:8080"}

    async def run() -> list[ScreenPop]:
        pops: list[ScreenPop] = []
        b = Phone(config)
        # Ada calls from her office number, written nationally in the From header
        a = Phone(PhoneConfig(accounts=(AccountConfig(user="02079460999", listen=("127.0.0.1", 0)),)))
        await b.start()
        await a.start()
        try:
            assert b.cti is not None
            b.cti.subscribe(pops.append)
            call = await a.call(uri_of(b))
            async with asyncio.timeout(5):
                while not any(p.card is not None for p in pops):
                    await asyncio.sleep(0.05)
            incoming = b.calls[0]
            assert incoming.state is CallState.INCOMING          # before anyone answered
            await call.hangup()
            await incoming.wait_ended(5)
        finally:
            await a.stop()
            await b.stop()
        assert b.cti is None          # the phone closed the service it made from [cti]
        return pops

    pops = asyncio.run(run())
    card = next(p.card for p in pops if p.card is not None)
    assert card.name == "Ada Lovelace" and card.company == "Analytical Engines Ltd"
    assert pops[0].direction == "inbound" and pops[0].number == "+442079460999"
