"""Helpers for the web handset tests: a Phone behind a WebServer on loopback, and a WebSocket
client that waits for the events it needs."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from offhook.phone import CallAudio, History, NullAudio, Phone, PhoneConfig, ToneRecorder
from offhook.web import Handset, new_token
from offhook.web.server import WebServer

CUSTOMERS = ("number,name,company,account_id,notes\n"
             "020 7946 0018,Ada Lovelace,Analytical Engines Ltd,A-1815,Prefers email\n"
             "+1 212 555 0100,Grace Hopper,COBOL Inc,G-1906,\n")


@dataclass
class WebPhone:
    phone: Phone
    handset: Handset
    server: WebServer

    @property
    def origin(self) -> str:
        return self.server.url.rstrip("/")


@contextlib.asynccontextmanager
async def web_phone(tmp_path: Path, *, audio: Callable[[], CallAudio] = NullAudio, cti: Any = None,
                    campaign_db: Path | None = None, speed_dial: dict[str, str] | None = None,
                    contacts: Path | None = None) -> AsyncIterator[WebPhone]:
    """A peer-to-peer Phone on 127.0.0.1 with a history, driven by a WebServer on a free port."""
    config = PhoneConfig(speed_dial=speed_dial or {}, contacts=(contacts,) if contacts else ())
    phone = Phone(config, audio=audio, local_audio=ToneRecorder(),
                  history=History.open(tmp_path / "web-history.sqlite"))
    await phone.start()
    handset = Handset(phone, cti=cti, campaign_db=campaign_db, report_interval=1.0)
    server = WebServer(handset, token=new_token(), listen=("127.0.0.1", 0))
    try:
        await server.start()
        yield WebPhone(phone, handset, server)
    finally:
        await server.stop()
        if cti is not None:
            await cti.aclose()
        await phone.stop()


class WsClient:
    """A browser-like WebSocket client: same Origin, logged in with the token message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self._taken: set[int] = set()
        self._next = 1

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"WebSocket closed: {msg.type} {msg.data} {msg.extra}")
        data: dict[str, Any] = msg.json()
        self.seen.append(data)
        return data

    async def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        """The first message matching `pred` that no earlier wait returned, received or not."""
        for i, data in enumerate(self.seen):
            if i not in self._taken and pred(data):
                self._taken.add(i)
                return data
        async with asyncio.timeout(timeout):
            while True:
                data = await self.recv(timeout)
                if pred(data):
                    self._taken.add(len(self.seen) - 1)
                    return data

    async def command(self, cmd: str, timeout: float = 15.0, **args: Any) -> dict[str, Any]:
        ident = self._next
        self._next += 1
        await self.ws.send_json({"id": ident, "cmd": cmd, **args})
        return await self.wait(lambda m: m.get("type") == "result" and m.get("id") == ident, timeout)


@contextlib.asynccontextmanager
async def ws_client(web: WebPhone) -> AsyncIterator[WsClient]:
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(web.origin + "/ws", origin=web.origin) as ws:
        await ws.send_json({"type": "auth", "token": web.server.token})
        client = WsClient(ws)
        hello = await client.wait(lambda m: m["type"] == "hello")
        assert hello["features"]["supervisor"] is (web.handset.campaign_db is not None)
        yield client
