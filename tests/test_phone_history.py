"""Call history (SQLite, WAL) and contacts (vCard, CSV), including a kill -9 in the middle of a call."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from offhook.phone.contacts import Contacts, ContactsError, parse_csv, parse_vcard
from offhook.phone.history import History, format_entries


def test_history_rows_start_answer_finish(tmp_path: Path) -> None:
    h = History.open(tmp_path / "h.sqlite")
    a = h.start("out", "sip:bob@example.com", name="Bob", account="work", at=1000.0)
    h.answered(a, at=1002.0)
    h.finish(a, "answered", "hung up", at=1062.5)
    b = h.start("in", "sip:carol@example.com", at=2000.0)
    h.finish(b, "missed", at=2010.0)
    rows = h.entries()
    assert [r.id for r in rows] == [b, a]                       # newest first
    assert (rows[1].duration, rows[1].result) == (60.5, "answered")
    assert (rows[1].answer, rows[1].end) == (1002.0, 1062.5)
    assert (rows[0].duration, rows[0].result) == (0.0, "missed")
    assert h.last_dialled() == rows[1] and h.last_caller() == rows[0]
    table = format_entries(rows)
    assert "Bob <sip:bob@example.com>" in table and "1:00" in table and "missed" in table
    mode = sqlite3.connect(tmp_path / "h.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with pytest.raises(ValueError, match="direction must be 'in' or 'out'"):
        h.start("sideways", "sip:x@y")
    h.close()


_IN_CALL = textwrap.dedent("""
    import asyncio, sys
    from offhook.phone import History, Phone, PhoneConfig, PolicyConfig
    async def main():
        hist = History.open(sys.argv[1])
        a = Phone(PhoneConfig(), history=hist)
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)))
        await a.start(); await b.start()
        host, port = b.lines["local"].agent.transport.local["UDP"]
        call = await a.call(f"sip:offhook@{host}:{port}")
        await call.wait_answered(10)
        print("in call", flush=True)
        await asyncio.sleep(60)
    asyncio.run(main())
""")


def test_kill_9_mid_call_leaves_a_consistent_row(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _IN_CALL, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "in call", line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    # what the dead process left, before anyone repairs it
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    row = raw.execute('SELECT direction, result, answer IS NOT NULL, "end" FROM calls').fetchall()
    assert row == [("out", "in progress", 1, None)]
    raw.close()
    h = History.open(db)
    (entry,) = h.entries()
    assert entry.result == "interrupted" and entry.end is None and entry.answer is not None
    assert entry.party.startswith("sip:offhook@127.0.0.1:")
    h.close()


_WRITER = textwrap.dedent("""
    import sys
    from offhook.phone.history import History
    h = History(sys.argv[1])
    print("ready", flush=True)
    i = 0
    while True:
        row = h.start("out", f"sip:{i}@x", at=float(i))
        h.answered(row, at=i + 1.0)
        h.finish(row, "answered", at=i + 3.0)
        i += 1
""")


def test_kill_9_during_writes_never_tears_a_row(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = raw.execute('SELECT start, answer, "end", duration, result FROM calls').fetchall()
    assert len(rows) > 5
    for start, answer, end, duration, result in rows:
        if result == "answered":
            assert (answer, end, duration) == (start + 1, start + 3, 2.0)
        else:   # the one call that was in the middle of it
            assert result == "in progress" and end is None
    assert sum(r[4] != "answered" for r in rows) <= 1


VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Smith;Carol;;;\r\nFN:Carol Smith\r\n"
    "TEL;TYPE=WORK,VOICE:+49 30 1234\r\nTEL;TYPE=cell:+49 170 555\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dave\r\n  Jones\r\nitem1.TEL;VALUE=uri:tel:+1-555-0100\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Nobody;No;;;\r\nEND:VCARD\r\n"        # no number: skipped
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nTEL:200\r\nEND:VCARD\r\n"  # no FN: from N
)


def test_vcard_3_and_4() -> None:
    cards = parse_vcard(VCARD)
    assert [(c.name, c.numbers) for c in cards] == [
        ("Carol Smith", ("+49 30 1234", "+49 170 555")), ("Dave Jones", ("+1-555-0100",)),
        ("Ann Lee", ("200",))]
    with pytest.raises(ContactsError, match="no END:VCARD"):
        parse_vcard("BEGIN:VCARD\nFN:x\n")
    with pytest.raises(ContactsError, match="line 2: 'garbage' is not 'NAME:value'"):
        parse_vcard("BEGIN:VCARD\ngarbage\nEND:VCARD\n", "x.vcf")


def test_csv_and_lookup(tmp_path: Path) -> None:
    (tmp_path / "team.csv").write_text("Name,Mobile Phone,SIP URI\n"
                                       "Eve Adams,+44 7700 900,sip:eve@example.com\nEvelyn Bo,300,\n\n")
    (tmp_path / "c.vcf").write_text(VCARD)
    book = Contacts.load([tmp_path / "team.csv", tmp_path / "c.vcf"])
    assert len(book) == 5
    assert book.find("eve adams").numbers == ("+44 7700 900", "sip:eve@example.com")  # type: ignore[union-attr]
    assert book.find("ev") is None                   # two names start with it
    assert book.find("carol").name == "Carol Smith"  # type: ignore[union-attr]
    assert book.find("jones").name == "Dave Jones"   # type: ignore[union-attr]
    assert book.name_for("+4930 1234") == "Carol Smith"
    assert book.name_for("999") is None
    with pytest.raises(ContactsError, match="needs a name column"):
        parse_csv("who,what\nx,y\n", "bad.csv")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ContactsError, match=r"x\.txt: contacts files are \.vcf, \.vcard or \.csv"):
        book.import_file(tmp_path / "x.txt")
