"""offhook.cti: computer-telephony integration — screen pops and call hooks.

The phone calls one object, :class:`CtiService`::

    from offhook.cti import CtiService, load_config
    cti = CtiService.from_config(load_config(path))   # the [cti] section of config.toml
    cti.subscribe(lambda pop: ...)                     # front-ends get ScreenPop events
    cti.call_event(call)                               # on every call state change; never blocks
    await cti.aclose()

Parts usable alone: numbers.py (E.164 normalisation), directory.py (CSV / SQLite / HTTP
customer lookups with a cache and a deadline), hooks.py (signed webhooks and commands on
call events), config.py (the TOML section).
"""
from offhook.cti.config import (
    CsvSourceConfig,
    CtiConfig,
    HttpSourceConfig,
    SqliteSourceConfig,
    load_config,
    parse_config,
)
from offhook.cti.directory import (
    CsvDirectory,
    CustomerCard,
    Directory,
    DirectorySource,
    HttpDirectory,
    LookupResult,
    SqliteDirectory,
)
from offhook.cti.hooks import (
    CallData,
    CommandHook,
    HookResult,
    HookRunner,
    WebhookHook,
    sign,
    verify_signature,
)
from offhook.cti.numbers import PhoneNumber, normalize, parse_number
from offhook.cti.screenpop import CallEventLike, CallSnapshot, CtiService, ScreenPop, event_for_state
from offhook.errors import CtiConfigError, CtiError, DirectoryError, NumberFormatError

__all__ = [
    "CallData",
    "CallEventLike",
    "CallSnapshot",
    "CommandHook",
    "CsvDirectory",
    "CsvSourceConfig",
    "CtiConfig",
    "CtiConfigError",
    "CtiError",
    "CtiService",
    "CustomerCard",
    "Directory",
    "DirectoryError",
    "DirectorySource",
    "HookResult",
    "HookRunner",
    "HttpDirectory",
    "HttpSourceConfig",
    "LookupResult",
    "NumberFormatError",
    "PhoneNumber",
    "ScreenPop",
    "SqliteDirectory",
    "SqliteSourceConfig",
    "WebhookHook",
    "event_for_state",
    "load_config",
    "normalize",
    "parse_config",
    "parse_number",
    "sign",
    "verify_signature",
]
