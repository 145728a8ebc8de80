"""Customer directory lookups: CSV, SQLite, HTTP (a real local server), cache and deadline."""
from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from offhook import CtiConfigError, DirectoryError
from offhook.cti.directory import (
    CsvDirectory,
    CustomerCard,
    Directory,
    HttpDirectory,
    SqliteDirectory,
)
from offhook.cti.numbers import parse_number
from test_cti_http import LocalServer, free_port

DATA = Path(__file__).parent / "data" / "cti"
CSV_COLUMNS = {"number": ["Phone", "Mobile"], "name": "Customer", "company": "Company",
               "account_id": "Account", "notes": "Notes"}


def n(text: str):
    return parse_number(text, "DE")


def _csv(**kwargs) -> CsvDirectory:
    return CsvDirectory(DATA / "customers.csv", columns=CSV_COLUMNS, default_country="DE", **kwargs)


# ---- CSV -------------------------------------------------------------------------------------

def test_csv_finds_customers_whatever_the_spelling():
    d = _csv()
    card = d.lookup_sync(n("+49 30 123456"))
    assert card == CustomerCard(name="Max Mustermann", number="+4930123456", company="Muster GmbH",
                                account_id="MG-042", notes=None, url=None, extra={"Tier": "silver"},
                                source="csv:customers.csv")
    assert d.lookup_sync(n("sip:+491712345678@pbx")).name == "Max Mustermann"   # the Mobile column
    assert d.lookup_sync(n("0044 20 7946 0999")).extra == {"Tier": "gold"}
    jean = d.lookup_sync(n("+33123456789"))
    assert jean.notes == 'Call after 14:00, ask for "Jean"'
    assert d.lookup_sync(n("+1 212 555 0123")).name == "Grace Hopper"          # extension ignored
    assert d.lookup_sync(n("+49 30 999999")) is None
    assert len(d) == 5


def test_csv_rows_whose_number_cannot_be_read_are_listed_not_fatal():
    d = _csv()
    assert d.skipped == ((5, "Phone: letter 'n' in the number (vanity numbers are not read)"),)


def test_csv_default_columns_and_unknown_column_errors(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("number,name,url,colour\n+4930111111,Plain,https://crm/1,blue\n", encoding="utf-8")
    card = CsvDirectory(path, default_country="DE").lookup_sync(n("030 111111"))
    assert (card.name, card.url, card.extra) == ("Plain", "https://crm/1", {"colour": "blue"})
    with pytest.raises(DirectoryError) as info:
        CsvDirectory(path, columns={"number": "Phone"})
    assert str(info.value) == ("csv:plain.csv: number column 'Phone' is not there; "
                               "columns: number, name, url, colour")
    with pytest.raises(DirectoryError, match=r"column 'Firm' \(for company\) is not there"):
        CsvDirectory(path, columns={"company": "Firm"})
    with pytest.raises(CtiConfigError, match=r"unknown card field\(s\) \['colour'\]"):
        CsvDirectory(path, columns={"colour": "colour"})


def test_csv_missing_empty_or_binary_file_is_a_directory_error(tmp_path):
    with pytest.raises(DirectoryError, match=r"csv:nope.csv: cannot read .*nope.csv: No such file"):
        CsvDirectory(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DirectoryError, match="the file is empty"):
        CsvDirectory(tmp_path / "empty.csv")
    (tmp_path / "bin.csv").write_bytes(b"number\n\xff\xfe\x00garbage\n")
    with pytest.raises(DirectoryError, match="is not a readable CSV file"):
        CsvDirectory(tmp_path / "bin.csv")


def test_csv_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "customers.csv"
    shutil.copy(DATA / "customers.csv", path)
    d = CsvDirectory(path, columns=CSV_COLUMNS, default_country="DE")
    assert d.lookup_sync(n("+49 89 7654321")) is None
    with path.open("a", encoding="utf-8") as f:
        f.write("New Customer,New Co,089 7654321,,NC-1,,\n")
    assert d.lookup_sync(n("+49 89 7654321")).company == "New Co"
    path.unlink()
    with pytest.raises(DirectoryError, match="cannot read"):
        d.lookup_sync(n("+49 89 7654321"))


# ---- SQLite ----------------------------------------------------------------------------------

@pytest.fixture
def crm_db(tmp_path) -> Path:
    path = tmp_path / "crm.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY, full_name TEXT, org TEXT, phone TEXT, "
               "crm_link TEXT, balance REAL)")
    db.executemany("INSERT INTO clients (full_name, org, phone, crm_link, balance) VALUES (?, ?, ?, ?, ?)", [
        ("Ada Lovelace", "AE Ltd", "+442079460018", "https://crm/ada", 12.5),
        ("Max Mustermann", "Muster GmbH", "030 123456", None, None),
        ("Bad Number", "X", "call me", None, None),
    ])
    db.commit()
    db.close()
    return path


SQL_COLUMNS = {"number": "phone", "name": "full_name", "company": "org", "url": "crm_link",
               "account_id": "id"}


@pytest.mark.parametrize("match", ["normalize", "exact"])
def test_sqlite_lookup_maps_columns_to_a_card(crm_db, match):
    d = SqliteDirectory(crm_db, table="clients", columns=SQL_COLUMNS, match=match, default_country="DE")
    card = d.lookup_sync(n("0044 (0)20 7946 0018"))
    assert card == CustomerCard(name="Ada Lovelace", number="+442079460018", company="AE Ltd",
                                account_id="1", url="https://crm/ada", extra={"balance": "12.5"},
                                source="sqlite:crm.db")
    # "030 123456" is stored with a space: only normalize matching reads it.
    max_card = d.lookup_sync(n("+4930123456"))
    assert (max_card.name if max_card else None) == ("Max Mustermann" if match == "normalize" else None)
    assert d.lookup_sync(n("+4930999999")) is None


def test_sqlite_exact_matching_uses_stored_national_spellings(tmp_path):
    path = tmp_path / "n.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (number TEXT, name TEXT)")
        db.execute("INSERT INTO customers VALUES ('030123456', 'National'), ('004989111', 'Zeros')")
    d = SqliteDirectory(path, match="exact", default_country="DE")
    assert d.lookup_sync(n("+4930123456")).name == "National"
    assert d.lookup_sync(n("+4989111")).name == "Zeros"


def test_sqlite_configuration_errors(crm_db, tmp_path):
    with pytest.raises(DirectoryError, match=r"sqlite:crm.db: no table 'customers' in .*crm.db"):
        SqliteDirectory(crm_db)
    with pytest.raises(CtiConfigError) as info:
        SqliteDirectory(crm_db, table='clients"; DROP TABLE clients; --')
    assert info.value.where == "table"
    assert "is not a plain SQL name (letters, digits, _)" in str(info.value)
    with pytest.raises(DirectoryError, match=r"number column 'number' is not there; columns: id, full_name"):
        SqliteDirectory(crm_db, table="clients")
    with pytest.raises(DirectoryError, match="cannot open"):
        SqliteDirectory(tmp_path / "missing.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(DirectoryError, match="cannot open"):
        SqliteDirectory(tmp_path / "junk.db")
    with pytest.raises(CtiConfigError, match="must be 'normalize' or 'exact'"):
        SqliteDirectory(crm_db, table="clients", columns=SQL_COLUMNS, match="fuzzy")  # type: ignore[arg-type]


def test_sqlite_file_removed_after_start_is_a_directory_error(crm_db):
    d = SqliteDirectory(crm_db, table="clients", columns=SQL_COLUMNS)
    crm_db.unlink()
    with pytest.raises(DirectoryError, match="lookup failed"):
        d.lookup_sync(n("+442079460018"))


# ---- HTTP ------------------------------------------------------------------------------------

def _crm(req):
    number = req.path.split("number=", 1)[1]
    if number == "%2B442079460018":
        body = {"customer": {"name": "Ada Lovelace", "id": 7, "company": "AE Ltd"}, "vip": True,
                "open_tickets": 2, "history": [1, 2]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
    if number == "%2B4930123456":
        return 200, {}, b'[{"customer": {"name": "Max"}}]'
    if number == "%2B4930000001":
        return 200, {}, b"{not json"
    if number == "%2B4930000002":
        return 200, {}, b'"a string"'
    if number == "%2B4930000003":
        return 500, {}, b"oops"
    if number == "%2B4930000004":
        return 200, {}, b"null"
    return 404, {}, b""


FIELDS = {"name": "customer.name", "account_id": "customer.id", "company": "customer.company"}


def _http_lookup(url, number, **kwargs):
    async def go():
        d = HttpDirectory(url, fields=FIELDS, **kwargs)
        try:
            return await d.lookup(n(number))
        finally:
            d.close()
    return asyncio.run(go())


def test_http_lookup_maps_json_to_a_card_and_encodes_the_number():
    with LocalServer(_crm) as server:
        card = _http_lookup(server.url + "/lookup?number={caller}", "+44 20 7946 0018",
                            headers={"Authorization": "Bearer t0ken"})
        assert card == CustomerCard(name="Ada Lovelace", number="+442079460018", company="AE Ltd",
                                    account_id="7", extra={"vip": "True", "open_tickets": "2"},
                                    source="http:127.0.0.1")
        assert _http_lookup(server.url + "/lookup?number={caller}", "+4930123456").name == "Max"
        assert _http_lookup(server.url + "/lookup?number={caller}", "+4930777777") is None
        assert _http_lookup(server.url + "/lookup?number={caller}", "+4930000004") is None
        assert _http_lookup(server.url + "/{digits}/{national}?number={caller}", "+4930777777") is None
    assert server.requests[0].path == "/lookup?number=%2B442079460018"
    assert server.requests[0].headers["authorization"] == "Bearer t0ken"
    assert server.requests[0].headers["accept"] == "application/json"
    assert server.requests[-1].path == "/4930777777/030777777?number=%2B4930777777"


@pytest.mark.parametrize(("number", "message"), [
    ("+4930000001", r"http:127.0.0.1: the answer is not JSON \(Expecting property name"),
    ("+4930000002", "http:127.0.0.1: the answer is JSON str, not an object"),
    ("+4930000003", "http:127.0.0.1: lookup answered 500 Internal Server Error"),
])
def test_http_bad_answers_are_directory_errors(number, message):
    with LocalServer(_crm) as server, pytest.raises(DirectoryError, match=message):
        _http_lookup(server.url + "/lookup?number={caller}", number)


def test_http_timeout_size_limit_and_refusal_are_directory_errors():
    with LocalServer(lambda req: (200, {}, b'{"name": "' + b"x" * 4000 + b'"}')) as server:
        with pytest.raises(DirectoryError, match="more than the limit of 1000"):
            _http_lookup(server.url + "/?n={caller}", "+4930123456", max_bytes=1000)
        server.delay = 1.0
        with pytest.raises(DirectoryError, match=r"lookup failed: no complete answer within 0.2 s"):
            _http_lookup(server.url + "/?n={caller}", "+4930123456", timeout=0.2)
    with pytest.raises(DirectoryError, match="lookup failed: ConnectionRefusedError"):
        _http_lookup(f"http://127.0.0.1:{free_port()}/?n={{caller}}", "+4930123456")


@pytest.mark.parametrize(("url", "kwargs", "message"), [
    ("https://crm.example/lookup", {}, r"url: the template must use \{caller\}"),
    ("https://crm.example/lookup?n={number}", {}, r"found \['number'\]"),
    ("https://crm.example/lookup?n={caller", {}, "bad placeholder"),
    ("crm.example/lookup?n={caller}", {}, "is not an http:// or https:// URL"),
    ("https://crm.example/?n={caller}", {"fields": {"phone": "x"}},
     r"fields: unknown card field\(s\) \['phone'\]"),
    ("https://crm.example/?n={caller}", {"timeout": 0}, "timeout: must be > 0 seconds, got 0"),
])
def test_http_directory_configuration_errors(url, kwargs, message):
    with pytest.raises(CtiConfigError, match=message):
        HttpDirectory(url, **kwargs)


# ---- Directory: order, cache, deadline -------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sources_are_asked_in_order_and_answers_cached():
    clock = FakeClock()

    async def go(server):
        http = HttpDirectory(server.url + "/lookup?number={caller}", fields=FIELDS)
        d = Directory([_csv(), http], cache_ttl=60, negative_ttl=10, default_country="DE", clock=clock)
        csv_hit = await d.lookup("030 123456")
        http_hit = await d.lookup("+44 20 7946 0018")
        again = await d.lookup("0044 20 7946 0018")
        missing = await d.lookup("+49 30 777777")
        missing_again = await d.lookup("+49 30 777777")
        clock.now += 11                       # the negative answer expires, the card does not
        missing_later = await d.lookup("+49 30 777777")
        card_later = await d.lookup("+44 20 7946 0018")
        clock.now += 60
        card_expired = await d.lookup("+44 20 7946 0018")
        garbage = await d.lookup("call me maybe")
        await d.aclose()
        return (csv_hit, http_hit, again, missing, missing_again, missing_later, card_later, card_expired,
                garbage)

    with LocalServer(_crm) as server:
        (csv_hit, http_hit, again, missing, missing_again, missing_later, card_later, card_expired,
         garbage) = asyncio.run(go(server))
    assert (csv_hit.status, csv_hit.card.source) == ("found", "csv:customers.csv")
    assert (http_hit.status, http_hit.card.name, http_hit.cached) == ("found", "Ada Lovelace", False)
    assert (again.status, again.cached, again.card) == ("found", True, http_hit.card)
    assert (missing.status, missing.cached, missing_again.status, missing_again.cached) == \
        ("not_found", False, "not_found", True)
    assert (missing_later.cached, card_later.cached, card_expired.cached) == (False, True, False)
    assert (garbage.status, garbage.number, garbage.card) == ("no_number", None, None)
    assert garbage.error == "letter 'c' in the number (vanity numbers are not read)"
    asked = [r.path for r in server.requests]
    assert asked == ["/lookup?number=%2B442079460018", "/lookup?number=%2B4930777777",
                     "/lookup?number=%2B4930777777", "/lookup?number=%2B442079460018"]


def test_a_failing_source_is_skipped_and_all_failing_is_an_error_not_an_exception():
    async def go(server):
        broken = HttpDirectory(server.url + "/broken?number={caller}")
        d = Directory([broken, _csv()], default_country="DE")
        found = await d.lookup("+4930123456")
        failed = await Directory([broken], default_country="DE").lookup("+4930123456")
        broken.close()
        return found, failed

    with LocalServer(lambda req: (503, {}, b"")) as server:
        found, failed = asyncio.run(go(server))
    assert (found.status, found.card.name) == ("found", "Max Mustermann")
    assert (failed.status, failed.card) == ("error", None)
    assert failed.error == "http:127.0.0.1: lookup answered 503 Service Unavailable"


def test_lookup_never_delays_the_caller_and_a_late_answer_is_kept():
    async def go(server):
        d = Directory([HttpDirectory(server.url + "/lookup?number={caller}", fields=FIELDS, timeout=5)],
                      timeout=0.2)
        task = d.start_lookup("+442079460018")
        ringing_still = not task.done()
        first = await task
        second = d.start_lookup("+442079460018", timeout=3.0)   # the same fetch, not a new request
        late = await second
        cached = await d.lookup("+442079460018")
        await d.aclose()
        return ringing_still, first, late, cached

    with LocalServer(_crm) as server:
        server.delay = 0.6
        ringing_still, first, late, cached = asyncio.run(go(server))
    assert ringing_still
    assert (first.status, first.card, first.error) == ("timeout", None, "no answer within 0.2 s")
    assert (late.status, late.card.name) == ("found", "Ada Lovelace")
    assert cached.cached and cached.card == late.card
    assert len(server.requests) == 1


def test_concurrent_lookups_of_one_number_share_one_request():
    async def go(server):
        d = Directory([HttpDirectory(server.url + "/lookup?number={caller}", fields=FIELDS)], timeout=3)
        results = await asyncio.gather(*(d.lookup("+442079460018") for _ in range(5)))
        await d.aclose()
        return results

    with LocalServer(_crm) as server:
        server.delay = 0.2
        results = asyncio.run(go(server))
    assert {r.card.name for r in results} == {"Ada Lovelace"}
    assert len(server.requests) == 1


def test_cache_is_bounded_and_can_be_invalidated():
    async def go():
        d = Directory([_csv()], cache_size=2, default_country="DE")
        await d.lookup("+4930123456")
        await d.lookup("+442079460018")
        await d.lookup("+33123456789")           # evicts +4930123456
        evicted = await d.lookup("+4930123456")
        kept = await d.lookup("+33123456789")
        d.invalidate("+33123456789")
        dropped = await d.lookup("+33123456789")
        return evicted.cached, kept.cached, dropped.cached

    assert asyncio.run(go()) == (False, True, False)


def test_directory_rejects_negative_durations():
    with pytest.raises(CtiConfigError, match="cache_ttl: must be >= 0 seconds, got -1"):
        Directory([], cache_ttl=-1)


def test_sqlite_normalize_matching_survives_separators_between_the_last_digits(tmp_path):
    path = tmp_path / "sep.db"
    spellings = ["+49 (0)30 12-34.56", "030/123 456", "0049-30-1234-56 x7", "030\u00a0123\u00a0456",
                 "+4930123456"]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (number TEXT, name TEXT)")
        db.execute("INSERT INTO customers VALUES ('+49 30 9123456', 'Decoy')")   # contains 123456 too
    for spelling in spellings:
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM customers WHERE name = 'Target'")
            db.execute("INSERT INTO customers VALUES (?, 'Target')", (spelling,))
        card = SqliteDirectory(path, default_country="DE").lookup_sync(n("+49 30 123456"))
        assert card is not None and card.name == "Target", spelling
