"""A small HTTP/1.1 client for the CTI lookups and webhooks: stdlib ``http.client`` run in
a private thread pool, so the event loop never blocks and no dependency is added.

Each request has one deadline for everything (connect, send, headers, body): the socket
timeout is the time left, the body is read in pieces with the deadline checked between
them, and at most `max_bytes` of body are accepted (a longer body is an error, never
silently cut).  The asyncio side awaits with the same deadline, so a caller is never held
longer than `timeout` even when a thread is still finishing.  TLS certificates are
verified (the default SSL context).  Redirects are not followed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["HttpClient", "HttpFailure", "HttpResponse"]

_CHUNK = 16384


class HttpFailure(Exception):
    """The request did not produce a response: connection refused, timeout, too large."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def check_url(url: str) -> str | None:
    """None when `url` is an absolute http(s) URL with a host, else what is wrong."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} is not an http:// or https:// URL"
    if not parts.hostname:
        return f"{url!r} has no host"
    return None


def _request(method: str, url: str, body: bytes | None, headers: Mapping[str, str],
             timeout: float, max_bytes: int) -> HttpResponse:
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HttpFailure(f"no complete answer within {timeout:g} s")
        return remaining

    problem = check_url(url)
    if problem:
        raise HttpFailure(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, parts.port, timeout=left(),
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=left())
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers=dict(headers))
        if conn.sock is not None:
            conn.sock.settimeout(left())
        resp = conn.getresponse()
        declared = resp.getheader("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
            raise HttpFailure(f"the answer is {int(declared)} bytes, more than the limit of {max_bytes}")
        pieces: list[bytes] = []
        size = 0
        while True:
            if conn.sock is not None:
                conn.sock.settimeout(left())
            piece = resp.read(_CHUNK)
            if not piece:
                break
            size += len(piece)
            if size > max_bytes:
                raise HttpFailure(f"the answer is more than the limit of {max_bytes} bytes")
            pieces.append(piece)
            left()
        return HttpResponse(resp.status, resp.reason,
                            {k.lower(): v for k, v in resp.getheaders()}, b"".join(pieces))
    except HttpFailure:
        raise
    except TimeoutError:
        raise HttpFailure(f"no complete answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise HttpFailure(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    finally:
        conn.close()


class HttpClient:
    """Runs requests on its own threads (`max_workers` at once) so a hanging server
    never takes the threads asyncio uses for anything else.  Close it when done."""

    def __init__(self, max_workers: int = 8) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix="offhook-cti-http")

    async def request(self, method: str, url: str, *, body: bytes | None = None,
                      headers: Mapping[str, str] | None = None, timeout: float = 5.0,
                      max_bytes: int = 1 << 20) -> HttpResponse:
        """The response (any status), or HttpFailure when none came within `timeout`."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, _request, method, url, body, dict(headers or {}),
                                      timeout, max_bytes)
        try:
            # A little slack so the thread's own, more precise message wins the race.
            return await asyncio.wait_for(future, timeout + 0.5)
        except TimeoutError:
            raise HttpFailure(f"no complete answer within {timeout:g} s") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
