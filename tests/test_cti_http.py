"""The CTI HTTP client against a real local server; LocalServer is shared by the CTI tests."""
from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from offhook.cti._http import HttpClient, HttpFailure, check_url


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


Reply = tuple[int, dict[str, str], bytes]


class LocalServer:
    """A real HTTP/1.1 server on 127.0.0.1 (a free port), in a thread.  `handler(request)`
    answers (status, headers, body).  Every request is recorded in `requests`; `delay`
    seconds are slept before answering; `answered` counts the responses sent."""

    def __init__(self, handler: Callable[[Received], Reply] | None = None) -> None:
        self.handler = handler or (lambda req: (200, {"Content-Type": "application/json"}, b"{}"))
        self.requests: list[Received] = []
        self.answered = 0     # responses fully sent
        self.delay = 0.0
        self.chunked = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(req)
                if outer.delay:
                    time.sleep(outer.delay)
                status, headers, payload = outer.handler(req)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if outer.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in range(0, len(payload), 7):
                            piece = payload[i:i + 7]
                            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                    self.wfile.flush()
                    outer.answered += 1
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _serve

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(coro):
    return asyncio.run(coro)


async def _request(*args, **kwargs):
    client = HttpClient()
    try:
        return await client.request(*args, **kwargs)
    finally:
        client.close()


def test_get_and_post_reach_the_server_with_headers_and_body():
    with LocalServer(lambda req: (201, {"X-Answer": "yes"}, b"created")) as server:
        resp = _run(_request("POST", f"{server.url}/hook?a=1", body=b'{"x":1}',
                             headers={"Content-Type": "application/json"}))
    assert (resp.status, resp.reason, resp.body) == (201, "Created", b"created")
    assert resp.headers["x-answer"] == "yes"
    (req,) = server.requests
    assert (req.method, req.path, req.body) == ("POST", "/hook?a=1", b'{"x":1}')
    assert req.headers["content-type"] == "application/json"


def test_chunked_answer_is_reassembled():
    with LocalServer(lambda req: (200, {}, b"0123456789" * 10)) as server:
        server.chunked = True
        resp = _run(_request("GET", server.url + "/"))
    assert resp.body == b"0123456789" * 10


@pytest.mark.parametrize("chunked", [False, True])
def test_answer_over_the_size_limit_is_refused(chunked):
    with LocalServer(lambda req: (200, {}, b"x" * 5000)) as server:
        server.chunked = chunked
        with pytest.raises(HttpFailure, match="more than the limit of 1000"):
            _run(_request("GET", server.url + "/", max_bytes=1000))


def test_slow_server_times_out_within_the_deadline():
    with LocalServer() as server:
        server.delay = 1.5
        with pytest.raises(HttpFailure, match=r"no complete answer within 0.2 s"):
            _run(_request("GET", server.url + "/", timeout=0.2))
        released_before_the_answer = server.answered == 0
    assert released_before_the_answer and len(server.requests) == 1


def test_refused_connection_is_an_http_failure():
    with pytest.raises(HttpFailure, match="ConnectionRefusedError"):
        _run(_request("GET", f"http://127.0.0.1:{free_port()}/", timeout=2))


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://x/", "'ftp://x/' is not an http:// or https:// URL"),
    ("http:///path", "'http:///path' has no host"),
    ("http://host:notaport/", "'http://host:notaport/' is not a URL (Port could not be cast"),
])
def test_bad_urls_are_named(url, problem):
    assert check_url(url).startswith(problem)
    with pytest.raises(HttpFailure, match="is not"if "has no" not in problem else "has no host"):
        _run(_request("GET", url))
