"""The ``[cti]`` section of offhook's TOML configuration, read into typed dataclasses.

    [cti]
    default_country = "DE"     # how numbers without + are read (ISO 3166 alpha-2)
    lookup_timeout = 1.5       # s: the pop shows "unknown" after this, updated if the answer comes late
    late_timeout = 20          # s: how long a late answer may still update the pop
    cache_ttl = 300            # s a card is cached; negative_ttl for "not found"
    negative_ttl = 30
    pop_outbound = true        # pop cards for calls the agent places too

    [[cti.directory]]          # asked in order; the first card wins
    type = "csv"               # or "sqlite", "http"
    path = "customers.csv"     # relative to the config file
    columns = { number = ["Phone", "Mobile"], name = "Customer", company = "Company" }

    [[cti.directory]]
    type = "sqlite"
    path = "crm.db"
    table = "customers"
    match = "normalize"        # or "exact" (indexable)

    [[cti.directory]]
    type = "http"
    url = "https://crm.example/lookup?number={caller}"
    timeout = 2.0
    headers = { Authorization = "Bearer ..." }
    fields = { name = "customer.name", account_id = "customer.id" }

    [[cti.hooks]]
    type = "webhook"
    url = "https://hooks.example/calls"
    events = ["ringing", "answered", "hungup"]   # default: all three
    secret_env = "OFFHOOK_HOOK_SECRET"           # or secret = "..." (HMAC-SHA256 signature)
    timeout = 5
    retries = 3
    backoff = 0.5

    [[cti.hooks]]
    type = "command"
    argv = ["/usr/local/bin/log-call", "--json"]
    events = ["hungup"]
    timeout = 10

Every mistake is a :class:`offhook.CtiConfigError` naming the key (``cti.hooks[1].url``)
and what is wrong; unknown keys are refused so typos do not pass silently.
"""
from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from offhook.cti._http import check_url
from offhook.cti.hooks import HOOK_EVENTS, CommandHook, Hook, HookEvent, WebhookHook
from offhook.cti.numbers import COUNTRIES
from offhook.errors import CtiConfigError

__all__ = [
    "CsvSourceConfig",
    "CtiConfig",
    "HttpSourceConfig",
    "SourceConfig",
    "SqliteSourceConfig",
    "load_config",
    "parse_config",
]


@dataclass(frozen=True)
class CsvSourceConfig:
    path: Path
    columns: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    delimiter: str = ","
    encoding: str = "utf-8-sig"


@dataclass(frozen=True)
class SqliteSourceConfig:
    path: Path
    table: str = "customers"
    columns: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    match: Literal["normalize", "exact"] = "normalize"


@dataclass(frozen=True)
class HttpSourceConfig:
    url: str
    fields: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 2.0
    max_bytes: int = 256 * 1024


SourceConfig: TypeAlias = CsvSourceConfig | SqliteSourceConfig | HttpSourceConfig


@dataclass(frozen=True)
class CtiConfig:
    """The ``[cti]`` section (defaults: no directory, no hooks, US numbering)."""

    enabled: bool = True
    default_country: str = "US"
    lookup_timeout: float = 2.0
    late_timeout: float = 20.0
    cache_ttl: float = 300.0
    negative_ttl: float = 30.0
    pop_outbound: bool = True
    directory: tuple[SourceConfig, ...] = ()
    hooks: tuple[Hook, ...] = ()


class _Table:
    """Typed reads from one TOML table; remembers the keys read to refuse the others."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise CtiConfigError(where, f"must be a table, got {type(data).__name__}")
        self.data: dict[str, object] = data
        self.where = where
        self.read: set[str] = set()

    def _get(self, key: str) -> object:
        self.read.add(key)
        return self.data.get(key)

    def at(self, key: str) -> str:
        return f"{self.where}.{key}"

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key)
        if value is None:
            if required:
                raise CtiConfigError(self.at(key), "is required")
            return default
        if not isinstance(value, str) or not value:
            raise CtiConfigError(self.at(key), f"must be a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0, positive: bool = False) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CtiConfigError(self.at(key), f"must be a number, got {value!r}")
        if positive and not value > 0:
            raise CtiConfigError(self.at(key), f"must be > 0, got {value!r}")
        if not value >= minimum:
            raise CtiConfigError(self.at(key), f"must be >= {minimum:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise CtiConfigError(self.at(key), f"must be an integer, got {value!r}")
        if value < minimum:
            raise CtiConfigError(self.at(key), f"must be >= {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise CtiConfigError(self.at(key), f"must be true or false, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CtiConfigError(self.at(key), f"must be a list of strings, got {value!r}")
        return tuple(value)

    def str_map(self, key: str, *, allow_lists: bool = False) -> dict[str, str | tuple[str, ...]]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise CtiConfigError(self.at(key), f"must be a table of strings, got {value!r}")
        out: dict[str, str | tuple[str, ...]] = {}
        for k, v in value.items():
            if isinstance(v, str):
                out[k] = v
            elif allow_lists and isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                out[k] = tuple(v)
            else:
                raise CtiConfigError(f"{self.at(key)}.{k}", f"must be a string, got {v!r}")
        return out

    def tables(self, key: str) -> list[object]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise CtiConfigError(self.at(key), f"must be an array of tables ([[cti.{key}]]), got {value!r}")
        return value

    def path(self, key: str, base_dir: Path) -> Path:
        value = self.string(key, required=True)
        p = Path(os.path.expanduser(value or ""))
        return p if p.is_absolute() else base_dir / p

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise CtiConfigError(self.at(unknown[0]),
                                 f"unknown key; known keys here: {', '.join(sorted(self.read))}")


def _strs(mapping: Mapping[str, str | tuple[str, ...]], where: str) -> dict[str, str]:
    out = {}
    for k, v in mapping.items():
        if not isinstance(v, str):
            raise CtiConfigError(f"{where}.{k}", f"must be a string, got {list(v)!r}")
        out[k] = v
    return out


def _source(t: _Table, base_dir: Path) -> SourceConfig:
    kind = t.string("type", required=True)
    source: SourceConfig
    if kind == "csv":
        source = CsvSourceConfig(t.path("path", base_dir), t.str_map("columns", allow_lists=True),
                                 t.string("delimiter", ",") or ",", t.string("encoding", "utf-8-sig") or "")
        if len(source.delimiter) != 1:
            raise CtiConfigError(t.at("delimiter"), f"must be one character, got {source.delimiter!r}")
    elif kind == "sqlite":
        match = t.string("match", "normalize")
        if match not in ("normalize", "exact"):
            raise CtiConfigError(t.at("match"), f"must be 'normalize' or 'exact', got {match!r}")
        source = SqliteSourceConfig(t.path("path", base_dir), t.string("table", "customers") or "",
                                    t.str_map("columns", allow_lists=True),
                                    "exact" if match == "exact" else "normalize")
    elif kind == "http":
        url = t.string("url", required=True) or ""
        problem = check_url(url.replace("{", "").replace("}", ""))
        if problem:
            raise CtiConfigError(t.at("url"), problem)
        if "{caller}" not in url and "{digits}" not in url and "{national}" not in url:
            raise CtiConfigError(t.at("url"), f"{url!r} has no {{caller}} placeholder")
        source = HttpSourceConfig(url, _strs(t.str_map("fields"), t.at("fields")),
                                  _strs(t.str_map("headers"), t.at("headers")),
                                  t.number("timeout", 2.0, positive=True),
                                  t.integer("max_bytes", 256 * 1024, minimum=1))
    else:
        raise CtiConfigError(t.at("type"), f"must be 'csv', 'sqlite' or 'http', got {kind!r}")
    t.done()
    return source


def _hook_events(t: _Table) -> frozenset[HookEvent]:
    names = t.strings("events")
    if names is None:
        return frozenset(HOOK_EVENTS)
    if not names:
        raise CtiConfigError(t.at("events"), "must name at least one event")
    out: set[HookEvent] = set()
    for name in names:
        event = next((e for e in HOOK_EVENTS if e == name), None)
        if event is None:
            raise CtiConfigError(t.at("events"),
                                 f"unknown event {name!r}; events are {', '.join(HOOK_EVENTS)}")
        out.add(event)
    return frozenset(out)


def _hook(t: _Table, base_dir: Path, environ: Mapping[str, str]) -> Hook:
    kind = t.string("type", required=True)
    events = _hook_events(t)
    name = t.string("name", "") or ""
    hook: Hook
    if kind == "webhook":
        url = t.string("url", required=True) or ""
        problem = check_url(url)
        if problem:
            raise CtiConfigError(t.at("url"), problem)
        secret = t.string("secret")
        secret_env = t.string("secret_env")
        if secret is not None and secret_env is not None:
            raise CtiConfigError(t.at("secret_env"), "give secret or secret_env, not both")
        if secret_env is not None:
            secret = environ.get(secret_env)
            if not secret:
                raise CtiConfigError(t.at("secret_env"), f"the environment variable {secret_env} is not set")
        hook = WebhookHook(url, events, secret, t.number("timeout", 5.0, positive=True),
                           t.integer("retries", 3), t.number("backoff", 0.5),
                           t.number("max_backoff", 30.0), _strs(t.str_map("headers"), t.at("headers")), name)
    elif kind == "command":
        argv = t.strings("argv")
        if not argv:
            raise CtiConfigError(t.at("argv"), "is required: the program and its arguments as a list of "
                                 "strings (it is not run through a shell)")
        cwd = t.string("cwd")
        hook = CommandHook(argv, events, t.number("timeout", 10.0, positive=True),
                           _strs(t.str_map("env"), t.at("env")), t.boolean("inherit_env", True),
                           str(base_dir / cwd) if cwd else None,
                           t.integer("max_output", 65536, minimum=0), name)
    else:
        raise CtiConfigError(t.at("type"), f"must be 'webhook' or 'command', got {kind!r}")
    t.done()
    return hook


def parse_config(document: Mapping[str, object] | str, *, base_dir: str | os.PathLike[str] = ".",
                 environ: Mapping[str, str] | None = None) -> CtiConfig:
    """The CtiConfig from a whole configuration document (TOML text, or the dict tomllib
    made of it); only its ``[cti]`` table is read (absent: the defaults).  Relative paths
    are resolved against `base_dir`; ``secret_env`` is read from `environ` (default:
    os.environ)."""
    if isinstance(document, str):
        try:
            document = tomllib.loads(document)
        except tomllib.TOMLDecodeError as exc:
            raise CtiConfigError("config", f"not valid TOML: {exc}") from None
    raw = document.get("cti")
    if raw is None:
        return CtiConfig()
    base = Path(base_dir)
    env = os.environ if environ is None else environ
    t = _Table(raw, "cti")
    country = (t.string("default_country", "US") or "US").upper()
    if country not in COUNTRIES:
        raise CtiConfigError(t.at("default_country"),
                             f"unknown country {country!r}; known: {', '.join(sorted(COUNTRIES))}")
    directory_raw = t.tables("directory")
    hooks_raw = t.tables("hooks")
    config = CtiConfig(
        enabled=t.boolean("enabled", True),
        default_country=country,
        lookup_timeout=t.number("lookup_timeout", 2.0),
        late_timeout=t.number("late_timeout", 20.0),
        cache_ttl=t.number("cache_ttl", 300.0),
        negative_ttl=t.number("negative_ttl", 30.0),
        pop_outbound=t.boolean("pop_outbound", True),
        directory=tuple(_source(_Table(s, f"cti.directory[{i}]"), base) for i, s in enumerate(directory_raw)),
        hooks=tuple(_hook(_Table(h, f"cti.hooks[{i}]"), base, env) for i, h in enumerate(hooks_raw)),
    )
    t.done()
    return config


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> CtiConfig:
    """parse_config of a TOML file; paths in it are relative to the file's folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CtiConfigError(str(p), f"cannot read the configuration: {exc}") from None
    return parse_config(text, base_dir=p.parent, environ=environ)
