"""The phone configuration an interactive front-end runs with (the console, `offhook web`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from offhook.errors import OffhookError
from offhook.phone.config import PhoneConfig, load_config, parse_host_port


def front_end_config(path: str | None, listen: str | None, option: str) -> PhoneConfig:
    """config.toml (or `path`), listening on `listen` (from the command line option `option`)
    or, without accounts, on 127.0.0.1:5060; the call history in the default place unless
    the file says where."""
    from offhook.cli.history_cmd import DEFAULT_HISTORY
    config = load_config(path)
    if listen:
        try:
            config = replace(config, listen=parse_host_port(listen, 5060))
        except ValueError as exc:
            raise OffhookError(f"{option}: {exc}") from None
    elif not config.accounts:
        config = replace(config, listen=("127.0.0.1", 5060))
    if config.history is None:
        config = replace(config, history=Path(DEFAULT_HISTORY).expanduser())
    return config
