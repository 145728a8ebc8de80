"""The `offhook` command's basic contract: --version, --help, bench codecs and bench call."""
import json
import subprocess
import sys

import offhook
from offhook.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offhook.cli.main", *args],
                          capture_output=True, text=True, timeout=300)


def test_version_prints_the_package_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"offhook {offhook.__version__}"


def test_help_lists_the_bench_command():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "bench" in result.stdout
    assert "usage: offhook" in result.stdout


def test_unknown_command_fails_with_usage():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr


def test_bench_codecs_reports_quality_and_speed_for_every_codec(capsys):
    assert main(["bench", "codecs", "--seconds", "4", "--loss", "0", "--loss", "20", "--json"]) == 0
    results = {r["codec"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(results) == {"PCMU", "PCMA", "G722 64k", "opus 24k", "opus 24k FEC"}
    for name, r in results.items():
        clean, lossy = r["pesq"]["0%"], r["pesq"]["20%"]
        assert 1.0 <= lossy < clean <= 4.65, name
        assert r["encode_decode_us"] > 0 and r["times_real_time"] > 1, name
    # Narrowband G.711 without loss is near its ceiling; 64 kbit/s per channel exactly.
    assert results["PCMU"]["pesq"]["0%"] > 3.9  # measured 3.99 on these 4 s
    assert results["PCMU"]["kbit_s"] == 64.0
    assert results["G722 64k"]["kbit_s"] == 64.0


def test_bench_call_places_real_calls_with_a_quality_report(capsys):
    # the README's main command: calls through SIP, the media thread and back, measured
    assert main(["bench", "call", "--codec", "PCMU", "--codec", "G722", "--seconds", "3", "--json"]) == 0
    reports = {r["codec"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(reports) == {"PCMU", "G722"}
    assert reports["PCMU"]["pesq_a_to_b"] > 3.5 and reports["PCMU"]["pesq_b_to_a"] > 3.5
    assert reports["G722"]["pesq_a_to_b"] > 2.6 and reports["G722"]["pesq_b_to_a"] > 2.6
    for r in reports.values():
        assert r["mos"] > 4.0 and r["loss_percent"] == 0.0


def test_bench_call_refuses_an_unknown_codec():
    result = run_cli("bench", "call", "--codec", "G729")
    assert result.returncode == 2 and "invalid choice: 'G729'" in result.stderr
