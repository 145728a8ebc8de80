"""Call hooks: tell other programs about calls (ringing, answered, hung up) without ever
holding the call up.

Two kinds, configured in ``[[cti.hooks]]`` (see screenpop.py) or built directly:

- :class:`WebhookHook` POSTs the call data as JSON.  With a `secret`, each POST carries
  ``X-Offhook-Timestamp`` (Unix seconds) and ``X-Offhook-Signature: sha256=<hex>``, the
  HMAC-SHA256 of ``<timestamp>.<body>`` under the secret (the timestamp is signed so a
  captured request cannot be replayed later; receivers check it with
  :func:`verify_signature`).  ``X-Offhook-Event`` names the event and ``X-Offhook-Delivery``
  is the same for every attempt of one delivery, so receivers can drop duplicates.
  Connection failures, timeouts, 408/425/429 and 5xx are retried `retries` times after
  `backoff`, 2×`backoff`... seconds (capped at `max_backoff`, or the server's shorter
  Retry-After); other answers are final.
- :class:`CommandHook` runs a program from an argv list — never through a shell, so caller
  names cannot inject commands — with the call data as JSON on stdin and as ``OFFHOOK_*``
  environment variables; killed (with its process group) after `timeout` s; stdout and
  stderr captured up to `max_output` bytes each.  Not retried (a command may not be
  idempotent).

:class:`HookRunner` ``.fire(data)`` returns at once: deliveries run as asyncio tasks, at most
`max_concurrent` at a time, in order per call and hook (a call's "answered" never reaches
a hook before its "ringing"); outcomes go to ``on_result`` and ``runner.results``.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as _dt
import functools
import hashlib
import hmac
import json
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from offhook.cti._http import HttpClient, HttpFailure
from offhook.cti.directory import CustomerCard

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "HOOK_EVENTS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CallData",
    "CommandHook",
    "Hook",
    "HookEvent",
    "HookResult",
    "HookRunner",
    "WebhookHook",
    "sign",
    "verify_signature",
]

log = logging.getLogger("offhook.cti.hooks")

HookEvent = Literal["ringing", "answered", "hungup"]
HOOK_EVENTS: tuple[HookEvent, ...] = ("ringing", "answered", "hungup")
SIGNATURE_HEADER = "X-Offhook-Signature"
TIMESTAMP_HEADER = "X-Offhook-Timestamp"
EVENT_HEADER = "X-Offhook-Event"
DELIVERY_HEADER = "X-Offhook-Delivery"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    stamp = _dt.datetime.fromtimestamp(t, _dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


@dataclass(frozen=True)
class CallData:
    """What hooks receive about a call.  `caller`/`callee` are E.164 (None when the URI
    holds no readable number; the URIs are always there), timestamps are Unix seconds
    (ISO 8601 UTC in the JSON), `duration` the talk time in seconds (answered → ended; 0
    when never answered; None before the call ended), `result` "answered", "missed",
    "unanswered" or what the phone reported, `customer` the screen pop's card."""

    event: HookEvent
    call_id: str
    direction: Literal["inbound", "outbound"]
    caller: str | None
    callee: str | None
    caller_uri: str
    callee_uri: str
    display_name: str | None = None
    account: str | None = None
    started_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    result: str | None = None
    customer: CustomerCard | None = None
    lookup_status: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "event": self.event, "call_id": self.call_id, "direction": self.direction,
            "caller": self.caller, "callee": self.callee,
            "caller_uri": self.caller_uri, "callee_uri": self.callee_uri,
            "display_name": self.display_name, "account": self.account,
            "started_at": _iso(self.started_at), "answered_at": _iso(self.answered_at),
            "ended_at": _iso(self.ended_at),
            "duration": None if self.duration is None else round(self.duration, 3),
            "result": self.result,
            "customer": self.customer.to_dict() if self.customer else None,
            "lookup_status": self.lookup_status,
        }

    def to_json(self) -> bytes:
        """The JSON body (UTF-8, compact, keys sorted)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    def environ(self) -> dict[str, str]:
        """``OFFHOOK_*`` variables for command hooks ("" for what is unknown)."""
        d = self.to_dict()
        env = {f"OFFHOOK_{k.upper()}": "" if d[k] is None else str(d[k])
               for k in ("event", "call_id", "direction", "caller", "callee", "caller_uri", "callee_uri",
                         "display_name", "account", "started_at", "answered_at", "ended_at",
                         "duration", "result", "lookup_status")}
        card = self.customer
        for key, value in (("NAME", card and card.name), ("COMPANY", card and card.company),
                           ("ACCOUNT_ID", card and card.account_id), ("URL", card and card.url),
                           ("NOTES", card and card.notes)):
            env[f"OFFHOOK_CUSTOMER_{key}"] = value or ""
        # The environment cannot hold NUL; SIP display names are the caller's to choose.
        return {k: v.replace("\0", "")[:4096] for k, v in env.items()}


@dataclass(frozen=True)
class WebhookHook:
    """POST the call data to `url` on `events` (see the module doc for signing and retries)."""

    url: str
    events: frozenset[HookEvent] = frozenset(HOOK_EVENTS)
    secret: str | None = field(default=None, repr=False)
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    name: str = ""

    @property
    def label(self) -> str:
        from urllib.parse import urlsplit
        return self.name or f"webhook:{urlsplit(self.url).hostname}"


@dataclass(frozen=True)
class CommandHook:
    """Run `argv` on `events` (see the module doc).  `env` adds variables; with
    `inherit_env` false the program sees only PATH, `env` and the OFFHOOK_* variables."""

    argv: tuple[str, ...]
    events: frozenset[HookEvent] = frozenset(HOOK_EVENTS)
    timeout: float = 10.0
    env: Mapping[str, str] = field(default_factory=dict)
    inherit_env: bool = True
    cwd: str | None = None
    max_output: int = 65536
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"command:{os.path.basename(self.argv[0]) if self.argv else '?'}"


Hook: TypeAlias = WebhookHook | CommandHook


@dataclass(frozen=True)
class HookResult:
    """One delivery's outcome: `status` the last HTTP status or the exit code (None when
    there was none), `error` why it failed (None when `ok`), `attempts` POSTs made."""

    hook: str
    event: HookEvent
    call_id: str
    ok: bool
    attempts: int = 1
    status: int | None = None
    error: str | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    elapsed: float = 0.0


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``timestamp.body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, timestamp: str, signature: str, *,
                     tolerance: float = 300.0, now: float | None = None) -> bool:
    """For receivers: True when `signature` signs `body` at `timestamp` under `secret` and
    the timestamp is within `tolerance` seconds of `now` (default: the clock)."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


_RETRY_STATUS = frozenset({408, 425, 429})


class HookRunner:
    """Fires hooks in the background.  Use from one event loop; ``await aclose()`` at exit
    (it waits up to its timeout for deliveries under way)."""

    def __init__(self, hooks: Sequence[Hook], *, max_concurrent: int = 16, max_pending: int = 1000,
                 on_result: Callable[[HookResult], None] | None = None, client: HttpClient | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.hooks = tuple(hooks)
        self._limit = asyncio.Semaphore(max_concurrent)
        self._max_pending = max_pending
        self._on_result = on_result
        self._own_client = client is None
        self._client = client or HttpClient(max_workers=max(1, min(max_concurrent, 16)))
        self._sleep = sleep
        self._clock = clock
        self._tasks: set[asyncio.Task[HookResult]] = set()
        self._chains: dict[tuple[int, str], asyncio.Task[HookResult]] = {}
        self.results: collections.deque[HookResult] = collections.deque(maxlen=256)

    def fire(self, data: CallData) -> int:
        """Schedule every hook that wants `data.event`; returns how many were scheduled.
        Never blocks and never raises for a hook's failure.  Needs a running event loop."""
        loop = asyncio.get_running_loop()
        scheduled = 0
        for index, hook in enumerate(self.hooks):
            if data.event not in hook.events:
                continue
            if len(self._tasks) >= self._max_pending:
                log.warning("hook %s: %d deliveries pending; %s of call %s dropped",
                            hook.label, len(self._tasks), data.event, data.call_id)
                self._record(HookResult(hook.label, data.event, data.call_id, False, 0,
                                        error="dropped: too many deliveries pending"))
                continue
            key = (index, data.call_id)
            task = loop.create_task(self._run(hook, data, self._chains.get(key)))
            self._chains[key] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._done, key=key))
            scheduled += 1
        return scheduled

    def _done(self, task: asyncio.Task[HookResult], key: tuple[int, str]) -> None:
        self._tasks.discard(task)
        if self._chains.get(key) is task:
            del self._chains[key]

    def _record(self, result: HookResult) -> None:
        self.results.append(result)
        if not result.ok:
            log.warning("hook %s (%s, call %s) failed after %d attempt(s): %s", result.hook,
                        result.event, result.call_id, result.attempts, result.error)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:
                log.exception("hook result callback failed")

    async def _run(self, hook: Hook, data: CallData, previous: asyncio.Task[HookResult] | None) -> HookResult:
        if previous is not None:
            await asyncio.wait([previous])
        start = time.monotonic()
        async with self._limit:
            try:
                if isinstance(hook, WebhookHook):
                    result = await self._post(hook, data)
                else:
                    result = await self._command(hook, data)
            except Exception as exc:  # a bug here must not surface in the call path
                log.exception("hook %s crashed", hook.label)
                result = HookResult(hook.label, data.event, data.call_id, False, error=repr(exc))
        result = HookResult(result.hook, result.event, result.call_id, result.ok, result.attempts,
                            result.status, result.error, result.stdout, result.stderr,
                            time.monotonic() - start)
        self._record(result)
        return result

    async def _post(self, hook: WebhookHook, data: CallData) -> HookResult:
        body = data.to_json()
        delivery = str(uuid.uuid4())
        status: int | None = None
        error = ""
        attempts = 0
        for attempt in range(hook.retries + 1):
            attempts = attempt + 1
            headers = {"Content-Type": "application/json", "User-Agent": "offhook-cti",
                       EVENT_HEADER: data.event, DELIVERY_HEADER: delivery, **hook.headers}
            if hook.secret:
                stamp = str(int(self._clock()))
                headers[TIMESTAMP_HEADER] = stamp
                headers[SIGNATURE_HEADER] = sign(hook.secret, stamp, body)
            delay = min(hook.backoff * 2 ** attempt, hook.max_backoff)
            try:
                resp = await self._client.request("POST", hook.url, body=body, headers=headers,
                                                  timeout=hook.timeout, max_bytes=65536)
            except HttpFailure as exc:
                status, error = None, str(exc)
            else:
                status = resp.status
                if 200 <= status < 300:
                    return HookResult(hook.label, data.event, data.call_id, True, attempts, status)
                error = f"answered {status} {resp.reason}"
                if status not in _RETRY_STATUS and status < 500:
                    break
                retry_after = resp.headers.get("retry-after", "").strip()
                if retry_after.isdigit():
                    delay = min(delay, float(retry_after)) if int(retry_after) > 0 else delay
            if attempt < hook.retries:
                await self._sleep(delay)
        return HookResult(hook.label, data.event, data.call_id, False, attempts, status, error)

    async def _command(self, hook: CommandHook, data: CallData) -> HookResult:
        env = dict(os.environ) if hook.inherit_env else {"PATH": os.environ.get("PATH", os.defpath)}
        env.update(hook.env)
        env.update(data.environ())
        try:
            proc = await asyncio.create_subprocess_exec(
                *hook.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, cwd=hook.cwd, start_new_session=True)
        except (OSError, ValueError) as exc:
            return HookResult(hook.label, data.event, data.call_id, False, 1, None,
                              f"cannot run {hook.argv[0] if hook.argv else '(empty argv)'}: {exc}")
        out, err = bytearray(), bytearray()
        stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
        if stdin is None or stdout is None or stderr is None:  # cannot happen with PIPE
            raise RuntimeError("subprocess pipes missing")

        async def feed(stream: asyncio.StreamWriter) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stream.write(data.to_json())
                await stream.drain()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                stream.close()

        async def collect(stream: asyncio.StreamReader, buf: bytearray) -> None:
            while chunk := await stream.read(65536):
                buf += chunk[:max(0, hook.max_output - len(buf))]

        async def run() -> int:
            await asyncio.gather(feed(stdin), collect(stdout, out), collect(stderr, err))
            return await proc.wait()

        try:
            code = await asyncio.wait_for(run(), hook.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return HookResult(hook.label, data.event, data.call_id, False, 1, proc.returncode,
                              f"killed after {hook.timeout:g} s", bytes(out), bytes(err))
        error = None if code == 0 else f"exited with status {code}: {err[:200].decode(errors='replace')}"
        return HookResult(hook.label, data.event, data.call_id, code == 0, 1, code, error,
                          bytes(out), bytes(err))

    @property
    def pending(self) -> int:
        """Deliveries scheduled or under way."""
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until no delivery is pending (True) or `timeout` s passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    async def aclose(self, timeout: float = 5.0) -> None:
        """Wait up to `timeout` s for pending deliveries, cancel the rest, free the threads."""
        if not await self.drain(timeout):
            for task in list(self._tasks):
                task.cancel()
            await asyncio.wait(set(self._tasks), timeout=1.0) if self._tasks else None
        if self._own_client:
            self._client.close()
