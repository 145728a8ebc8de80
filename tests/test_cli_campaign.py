"""`offhook campaign` and `offhook report`: create from CSV, status, start/stop/resume against SIPp."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dialer_sipp import HUMAN_GREETING, SippServer, greeting
from offhook.cli.main import main
from sip_peers import need, stop


def _csv(path: Path, numbers: list[str]) -> Path:
    path.write_text("number,name\n" + "".join(f"{n},person {i}\n" for i, n in enumerate(numbers)))
    return path


def test_create_status_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    contacts = _csv(tmp_path / "list.csv", ["+44 20 7946 0001", "+442079460002", "+442079460003",
                                            "+442079460003", "0044 20 7946 0004"])
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("# opted out\n+442079460002\n")
    assert main(["campaign", "create", "spring", "--db", db, "--contacts", str(contacts),
                 "--mode", "progressive", "--abandon-target", "0.02", "--hours", "mon-fri=09:00-20:00",
                 "--hours", "sat=10:00-13:00", "--dnc", str(dnc)]) == 0
    assert capsys.readouterr().out.strip() == \
        "campaign spring: 3 contacts, 1 duplicates, 1 on the do-not-call list"
    assert main(["campaign", "status", "spring", "--db", db, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == "created"
    assert info["contacts"] == {"pending": 3, "do-not-call": 1}
    assert info["config"]["mode"] == "progressive" and info["config"]["abandon_target"] == 0.02
    assert info["config"]["calling_hours"] == {"mon-fri": ["09:00-20:00"], "sat": ["10:00-13:00"]}

    # A second create under the same name, bad hours, unknown campaign: one-line reasons.
    assert main(["campaign", "create", "spring", "--db", db, "--contacts", str(contacts)]) == 1
    assert "campaign 'spring' already exists" in capsys.readouterr().err
    assert main(["campaign", "create", "x", "--db", db, "--contacts", str(contacts), "--hours", "9-5"]) == 1
    assert "expected DAYS=HH:MM-HH:MM" in capsys.readouterr().err
    assert main(["campaign", "create", "y", "--db", db, "--contacts", str(contacts),
                 "--hours", "mon=20:00-09:00"]) == 1
    assert "ends before it starts" in capsys.readouterr().err
    assert main(["campaign", "status", "nope", "--db", db]) == 1
    assert "no campaign 'nope'" in capsys.readouterr().err
    assert main(["campaign", "start", "spring", "--db", db, "--agent", "mailto:x@y"]) == 1
    assert "--agent 'mailto:x@y'" in capsys.readouterr().err

    assert main(["campaign", "stop", "spring", "--db", db]) == 0
    capsys.readouterr()
    assert main(["campaign", "start", "spring", "--db", db, "--agent", "sip:a@127.0.0.1:9"]) == 1
    assert "offhook campaign resume spring" in capsys.readouterr().err
    assert main(["report", "--db", db, "--campaign", "spring", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("grouping,key,")


def _offhook(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "offhook.cli.main", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_start_stop_resume_and_report_against_sipp(tmp_path: Path) -> None:
    need("sipp")
    need("espeak-ng")
    callee = SippServer("uas_dial_speak.xml", tmp_path / "callee", speech=greeting(HUMAN_GREETING, 8000))
    agent = SippServer("uas_dial_agent.xml", tmp_path / "agent", pause=(700, 900))
    db = str(tmp_path / "c.sqlite")
    contacts = _csv(tmp_path / "list.csv", [f"+44207946{i:04d}" for i in range(14)])
    try:
        assert main(["campaign", "create", "spring", "--db", db, "--contacts", str(contacts),
                     "--mode", "progressive", "--abandon-grace", "3", "--ring-timeout", "5"]) == 0
        run_args = ["--db", db, "--agent", f"sip:anna@{agent.uri_host}",
                    "--route", f"sip:{{number}}@{callee.uri_host}"]
        proc = _offhook("campaign", "start", "spring", *run_args, cwd=tmp_path)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("campaign spring: dialling (progressive, 1 agent(s))"), first
            time.sleep(2.0)   # a few calls get through
            assert main(["campaign", "stop", "spring", "--db", db]) == 0
            out, err = proc.communicate(timeout=30)
        finally:
            stop(proc)
        assert proc.returncode == 0, err
        assert "campaign spring: stopped;" in out
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "offhook.cli.main", "campaign", "status", "spring", "--db", db, "--json"],
            capture_output=True, text=True, check=True).stdout)
        assert status["status"] == "stopped"
        done = status["contacts"].get("done", 0)
        assert 1 <= done < 14 and status["contacts"].get("pending", 0) == 14 - done
        assert "dialing" not in status["contacts"]   # graceful: calls in progress ended

        proc = _offhook("campaign", "resume", "spring", *run_args, cwd=tmp_path)
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            stop(proc)
        assert proc.returncode == 0, err
        assert "nothing left to dial" in out
        assert main(["campaign", "status", "spring", "--db", db]) == 0

        report_json = subprocess.run(
            [sys.executable, "-m", "offhook.cli.main", "report", "--db", db, "--campaign", "spring",
             "--format", "json"], capture_output=True, text=True, check=True).stdout
        overall = json.loads(report_json)["overall"]
        assert overall["outcomes"].get("answered-human", 0) == 14   # one agent, progressive: no abandon
        assert overall["abandon_rate"] == 0.0
        assert 0.6 < overall["average_talk"] < 2.0   # the agent's 0.7..0.9 s hold, through SIP
        html = tmp_path / "r.html"
        assert main(["report", "--db", db, "--campaign", "spring", "--out", str(html)]) == 0
        root = ET.fromstring(html.read_text())
        assert root.find(".//{*}svg") is not None or root.find(".//svg") is not None
        assert "Aborting call" not in callee.errors() + agent.errors()
    finally:
        callee.stop()
        agent.stop()
