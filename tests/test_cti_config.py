"""The [cti] TOML section: typed config, and the exact messages for mistakes."""
from __future__ import annotations

from pathlib import Path

import pytest

from offhook import CtiConfigError
from offhook.cti.config import (
    CsvSourceConfig,
    CtiConfig,
    HttpSourceConfig,
    SqliteSourceConfig,
    load_config,
    parse_config,
)
from offhook.cti.hooks import CommandHook, WebhookHook

FULL = """
[sip]
unrelated = true

[cti]
default_country = "de"
lookup_timeout = 1.5
late_timeout = 10
cache_ttl = 600
negative_ttl = 5
pop_outbound = false

[[cti.directory]]
type = "csv"
path = "customers.csv"
columns = { number = ["Phone", "Mobile"], name = "Customer" }

[[cti.directory]]
type = "sqlite"
path = "/var/lib/crm.db"
table = "clients"
match = "exact"

[[cti.directory]]
type = "http"
url = "https://crm.example/lookup?number={caller}"
timeout = 0.8
headers = { Authorization = "Bearer abc" }
fields = { name = "customer.name" }

[[cti.hooks]]
type = "webhook"
url = "https://hooks.example/calls"
events = ["ringing", "hungup"]
secret_env = "HOOK_SECRET"
retries = 5
backoff = 0.25

[[cti.hooks]]
type = "command"
name = "logger"
argv = ["/usr/local/bin/log-call", "--json"]
events = ["hungup"]
timeout = 3
env = { LOG_LEVEL = "debug" }
"""


def test_full_section_reads_into_typed_dataclasses(tmp_path):
    cfg = parse_config(FULL, base_dir=tmp_path, environ={"HOOK_SECRET": "s3cret"})
    assert (cfg.default_country, cfg.lookup_timeout, cfg.late_timeout, cfg.cache_ttl, cfg.negative_ttl,
            cfg.pop_outbound, cfg.enabled) == ("DE", 1.5, 10.0, 600.0, 5.0, False, True)
    csv, sqlite, http = cfg.directory
    assert csv == CsvSourceConfig(tmp_path / "customers.csv",
                                  {"number": ("Phone", "Mobile"), "name": "Customer"})
    assert sqlite == SqliteSourceConfig(Path("/var/lib/crm.db"), "clients", {}, "exact")
    assert http == HttpSourceConfig("https://crm.example/lookup?number={caller}", {"name": "customer.name"},
                                    {"Authorization": "Bearer abc"}, 0.8)
    webhook, command = cfg.hooks
    assert webhook == WebhookHook("https://hooks.example/calls", frozenset({"ringing", "hungup"}), "s3cret",
                                  retries=5, backoff=0.25)
    assert "s3cret" not in repr(webhook) and "Bearer" not in repr(http)
    assert command == CommandHook(("/usr/local/bin/log-call", "--json"), frozenset({"hungup"}), 3.0,
                                  {"LOG_LEVEL": "debug"}, name="logger")


def test_absent_section_is_the_defaults_and_load_config_reads_relative_to_the_file(tmp_path):
    assert parse_config("[sip]\nx = 1\n") == CtiConfig()
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text('[cti]\n[[cti.directory]]\ntype = "csv"\npath = "c.csv"\n', encoding="utf-8")
    assert load_config(path).directory[0].path == tmp_path / "conf" / "c.csv"
    with pytest.raises(CtiConfigError, match=r"missing.toml: cannot read the configuration"):
        load_config(tmp_path / "missing.toml")


WEBHOOK = "[[cti.hooks]]\ntype = 'webhook'\nurl = 'https://h/'\n"


def _error(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(CtiConfigError) as info:
        parse_config(text, environ=environ or {})
    assert isinstance(info.value, ValueError)
    return str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("[cti\n",
     "config: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 5)"),
    ("cti = 3", "cti: must be a table, got int"),
    ("[cti]\ndefault_country = 'XX'",
     "cti.default_country: unknown country 'XX'; known: AR, AT, AU, BE, BR, CA, CH, CN, CZ, DE, DK, ES, FI, "
     "FR, GB, GR, HK, HU, IE, IL, IN, IT, JP, KR, LU, MX, NL, NO, NZ, PL, PT, RO, RU, SE, SG, SK, TR, UA, "
     "US, ZA"),
    ("[cti]\nlookup_timeout = 'fast'", "cti.lookup_timeout: must be a number, got 'fast'"),
    ("[cti]\nlookup_timeout = -1", "cti.lookup_timeout: must be >= 0, got -1"),
    ("[cti]\npop_outbound = 'yes'", "cti.pop_outbound: must be true or false, got 'yes'"),
    ("[cti]\nlookup_timeut = 2",
     "cti.lookup_timeut: unknown key; known keys here: cache_ttl, default_country, "
     "directory, enabled, hooks, late_timeout, lookup_timeout, negative_ttl, pop_outbound"),
    ("[cti]\ndirectory = 'crm.csv'",
     "cti.directory: must be an array of tables ([[cti.directory]]), got 'crm.csv'"),
    ("[[cti.directory]]\npath = 'x.csv'", "cti.directory[0].type: is required"),
    ("[[cti.directory]]\ntype = 'ldap'",
     "cti.directory[0].type: must be 'csv', 'sqlite' or 'http', got 'ldap'"),
    ("[[cti.directory]]\ntype = 'csv'", "cti.directory[0].path: is required"),
    ("[[cti.directory]]\ntype = 'csv'\npath = 'x'\ndelimiter = ';;'",
     "cti.directory[0].delimiter: must be one character, got ';;'"),
    ("[[cti.directory]]\ntype = 'csv'\npath = 'x'\ncolumns = { name = 3 }",
     "cti.directory[0].columns.name: must be a string, got 3"),
    ("[[cti.directory]]\ntype = 'sqlite'\npath = 'x'\nmatch = 'fuzzy'",
     "cti.directory[0].match: must be 'normalize' or 'exact', got 'fuzzy'"),
    ("[[cti.directory]]\ntype = 'http'\nurl = 'https://crm/lookup'",
     "cti.directory[0].url: 'https://crm/lookup' has no {caller} placeholder"),
    ("[[cti.directory]]\ntype = 'http'\nurl = 'ftp://crm/{caller}'",
     "cti.directory[0].url: 'ftp://crm/caller' is not an http:// or https:// URL"),
    ("[[cti.directory]]\ntype = 'http'\nurl = 'https://crm/{caller}'\ntimeout = 0",
     "cti.directory[0].timeout: must be > 0, got 0"),
    ("[[cti.directory]]\ntype = 'http'\nurl = 'https://crm/{caller}'\nheaders = { A = ['x'] }",
     "cti.directory[0].headers.A: must be a string, got ['x']"),
    ("[[cti.directory]]\ntype = 'csv'\npath = 'x'\ncolums = {}",
     "cti.directory[0].colums: unknown key; known keys here: columns, delimiter, encoding, path, type"),
    ("[[cti.hooks]]\ntype = 'email'", "cti.hooks[0].type: must be 'webhook' or 'command', got 'email'"),
    ("[[cti.hooks]]\ntype = 'webhook'", "cti.hooks[0].url: is required"),
    ("[[cti.hooks]]\ntype = 'webhook'\nurl = 'hooks.example/x'",
     "cti.hooks[0].url: 'hooks.example/x' is not an http:// or https:// URL"),
    ("[[cti.hooks]]\ntype = 'webhook'\nurl = 'https://h/'\nevents = ['ringing', 'held']",
     "cti.hooks[0].events: unknown event 'held'; events are ringing, answered, hungup"),
    (WEBHOOK + "events = []", "cti.hooks[0].events: must name at least one event"),
    ("[[cti.hooks]]\ntype = 'webhook'\nurl = 'https://h/'\nevents = 'ringing'",
     "cti.hooks[0].events: must be a list of strings, got 'ringing'"),
    ("[[cti.hooks]]\ntype = 'webhook'\nurl = 'https://h/'\nsecret_env = 'NOPE'",
     "cti.hooks[0].secret_env: the environment variable NOPE is not set"),
    ("[[cti.hooks]]\ntype = 'webhook'\nurl = 'https://h/'\nsecret = 'a'\nsecret_env = 'B'",
     "cti.hooks[0].secret_env: give secret or secret_env, not both"),
    (WEBHOOK + "retries = 1.5", "cti.hooks[0].retries: must be an integer, got 1.5"),
    (WEBHOOK + "retries = -1", "cti.hooks[0].retries: must be >= 0, got -1"),
    ("[[cti.hooks]]\ntype = 'command'\ncommand = 'log-call --json'",
     "cti.hooks[0].argv: is required: the program and its arguments as a list of strings (it is not run "
     "through a shell)"),
    ("[[cti.hooks]]\ntype = 'command'\nargv = 'log-call --json'",
     "cti.hooks[0].argv: must be a list of strings, got 'log-call --json'"),
    ("[[cti.hooks]]\ntype = 'command'\nargv = ['x']\ninherit_env = 1",
     "cti.hooks[0].inherit_env: must be true or false, got 1"),
])
def test_mistakes_name_the_key_and_the_problem(text, message):
    assert _error(text) == message
