"""The web handset's HTTP and WebSocket server (aiohttp).

    handset = Handset(phone, cti=cti)
    server = WebServer(handset, token=token, listen=("127.0.0.1", 8080))
    await server.start(); print(server.login_url); ...; await server.stop()

Routes (everything but /static needs the token, see auth.py):

    GET  /                 the handset page (?token=... logs in; ?embed=1 compact, for iframes)
    GET  /supervisor       campaign statistics, refreshed live
    GET  /static/...       HTML, CSS and JS of the page and of the <offhook-phone> element
    GET  /ws               WebSocket: JSON commands in, events out (handset.py)
    GET  /api/state        the hello snapshot as JSON
    GET  /api/report       the supervisor's statistics as JSON
    POST /api/command      one command as JSON (same as over the WebSocket)
    POST /logout           forget the session cookie

API clients that are not browsers authenticate with `Authorization: Bearer <token>`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from offhook.web.auth import (
    COOKIE_NAME,
    cookie_value,
    host_allowed,
    origin_allowed,
    token_matches,
)
from offhook.web.handset import Handset, Message

__all__ = ["STATIC_DIR", "WebServer"]

log = logging.getLogger("offhook.web")

STATIC_DIR = Path(str(resources.files("offhook.web") / "static"))
_MAX_MESSAGE = 64 * 1024
_QUEUE = 512              # events buffered per client before a slow client is dropped
_MAX_PENDING = 16         # commands in flight per client
_AUTH_TIMEOUT = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebServer:
    """See the module docstring. `allowed_origins` ("https://crm.example") may open the
    WebSocket and POST besides the handset's own origin, and may frame the page."""

    def __init__(self, handset: Handset, *, token: str, listen: tuple[str, int] = ("127.0.0.1", 8080),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.handset = handset
        self.token = token
        self.listen = listen
        self.allowed_origins = frozenset(o.rstrip("/") for o in allowed_origins)
        self._cookie = cookie_value(token)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.port = listen[1]

    # --- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=_MAX_MESSAGE)
        app.router.add_get("/", self._page("index.html"))
        app.router.add_get("/supervisor", self._page("supervisor.html"))
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/report", self._report)
        app.router.add_post("/api/command", self._command)
        app.router.add_post("/logout", self._logout)
        app.router.add_static("/static", STATIC_DIR, follow_symlinks=False)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def start(self) -> None:
        self.handset.start()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        host, port = self.listen
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.handset.stop()

    @property
    def url(self) -> str:
        host = self.listen[0]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    @property
    def login_url(self) -> str:
        return f"{self.url}?token={self.token}"

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")

    # --- checks ----------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.host, self.listen[0]):
            return web.Response(status=421, text="this handset answers to its loopback address only "
                                "(Host header refused: DNS rebinding protection)\n")
        response = await handler(request)
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/static/"):
            # public files; module scripts load in CORS mode, so embedding sites need this
            h.setdefault("Access-Control-Allow-Origin", "*")
        else:
            h.setdefault("Cache-Control", "no-store")
        return response

    def _authed(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and token_matches(self.token, auth[7:].strip()):
            return True
        return token_matches(self._cookie, request.cookies.get(COOKIE_NAME))

    def _same_origin(self, request: web.Request) -> bool:
        return origin_allowed(request.headers.get("Origin"), request.host, request.scheme,
                              self.allowed_origins)

    def _csp(self, request: web.Request) -> str:
        ancestors = " ".join(["'self'", *sorted(self.allowed_origins)])
        host = request.host
        return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                f"img-src 'self' data:; connect-src 'self' ws://{host} wss://{host}; "
                f"frame-ancestors {ancestors}; base-uri 'none'; form-action 'self'; object-src 'none'")

    def _set_cookie(self, response: web.StreamResponse) -> None:
        response.set_cookie(COOKIE_NAME, self._cookie, httponly=True, samesite="Strict", path="/",
                            secure=False)

    # --- pages -----------------------------------------------------------------------------

    def _page(self, name: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            given = request.query.get("token")
            login = given is not None and token_matches(self.token, given)
            if not (login or self._authed(request)):
                response = web.Response(status=401, text=_LOGIN_PAGE, content_type="text/html")
                response.headers["Content-Security-Policy"] = "default-src 'none'; form-action 'self'"
                return response
            response = web.Response(body=(STATIC_DIR / name).read_bytes(), content_type="text/html",
                                    charset="utf-8")
            response.headers["Content-Security-Policy"] = self._csp(request)
            if login:
                self._set_cookie(response)
            return response
        return handler

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return web.Response(status=403, text="cross-origin request refused\n")
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE_NAME, path="/")
        return response

    # --- JSON API --------------------------------------------------------------------------

    def _api_refusal(self, request: web.Request, *, post: bool) -> web.Response | None:
        if not self._authed(request):
            return web.json_response({"ok": False, "error": "the handset's token is required"}, status=401)
        origin = request.headers.get("Origin")
        bearer = request.headers.get("Authorization", "").startswith("Bearer ")
        if ((post and not bearer) or origin is not None) and not self._same_origin(request):
            return web.json_response({"ok": False, "error": "cross-origin request refused"}, status=403)
        return None

    async def _state(self, request: web.Request) -> web.StreamResponse:
        return self._api_refusal(request, post=False) or web.json_response(self.handset.hello())

    async def _report(self, request: web.Request) -> web.StreamResponse:
        return self._api_refusal(request, post=False) or web.json_response(await self.handset.report())

    async def _command(self, request: web.Request) -> web.StreamResponse:
        refusal = self._api_refusal(request, post=True)
        if refusal is not None:
            return refusal
        try:
            msg = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"ok": False, "error": "the body must be a JSON object"}, status=400)
        if not isinstance(msg, dict):
            return web.json_response({"ok": False, "error": "the body must be a JSON object"}, status=400)
        result = await self.handset.execute(msg)
        return web.json_response(result, status=200 if result["ok"] else 422)

    # --- WebSocket -------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            return web.Response(status=403, text="cross-origin WebSocket refused (Origin must be the "
                                "handset's own or an allowed origin)\n")
        ws = web.WebSocketResponse(max_msg_size=_MAX_MESSAGE, heartbeat=30.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            if self._authed(request) or await self._ws_login(ws):
                await self._ws_session(ws)
        finally:
            self._sockets.discard(ws)
        return ws

    async def _ws_login(self, ws: web.WebSocketResponse) -> bool:
        """No cookie (an iframe on another site, the web component): the first message must
        be {"type": "auth", "token": ...}."""
        try:
            msg = await ws.receive(timeout=_AUTH_TIMEOUT)
        except TimeoutError:
            await ws.close(code=4401, message=b"authentication required")
            return False
        data = _json(msg.data) if msg.type is WSMsgType.TEXT else None
        if data is not None and data.get("type") == "auth" and token_matches(self.token, data.get("token")):
            return True
        with contextlib.suppress(ConnectionError):
            await ws.send_json({"type": "error", "error": "authentication failed: wrong or missing token"})
        await ws.close(code=4401, message=b"authentication failed")
        return False

    async def _ws_session(self, ws: web.WebSocketResponse) -> None:
        queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=_QUEUE)

        def send(message: Message) -> None:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("web client too slow: disconnected")
                disconnect()
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                queue.put_nowait(None)

        async def writer() -> None:
            while (message := await queue.get()) is not None:
                await ws.send_str(json.dumps(message))
            await ws.close(code=1011, message=b"too slow")

        pending: set[asyncio.Task[None]] = set()

        async def run(data: dict[str, Any]) -> None:
            send(await self.handset.execute(data, send))

        disconnect = self.handset.connect(send)
        write_task = asyncio.ensure_future(writer())
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                data = _json(msg.data)
                if data is None:
                    send({"type": "result", "id": None, "ok": False, "error": "a command is a JSON object"})
                elif data.get("type") == "auth":
                    if not token_matches(self.token, data.get("token")):   # a wrong token, even with a cookie
                        send({"type": "error", "error": "authentication failed: wrong or missing token"})
                        await asyncio.sleep(0.05)    # let the writer send it
                        await ws.close(code=4401, message=b"authentication failed")
                        break
                    send({"type": "result", "id": data.get("id"), "ok": True})
                elif len(pending) >= _MAX_PENDING:
                    send({"type": "result", "id": data.get("id"), "ok": False,
                          "error": f"too many commands in flight (at most {_MAX_PENDING})"})
                else:
                    task = asyncio.ensure_future(run(data))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        finally:
            disconnect()
            for task in list(pending):
                task.cancel()
            write_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await write_task


def _json(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None



_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>offhook: token required</title></head>
<body style="font-family:sans-serif;margin:3em">
<h1 id="refused">This handset needs its token</h1>
<p>Open the address <code>offhook web</code> printed when it started (it ends in <code>?token=…</code>),
or paste the token here.</p>
<form method="get" action="/"><input name="token" type="password" autocomplete="off" size="50">
<button type="submit">Open</button></form>
</body></html>
"""
