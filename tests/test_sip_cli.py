"""`offhook call` / `offhook answer`: argument checks and failures with one-line reasons."""
from __future__ import annotations

import pytest

from offhook.cli.main import main
from sip_peers import free_port


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:   # argparse usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_help_lists_call_and_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "call" in out and "answer" in out


@pytest.mark.parametrize("argv, message", [
    (("call", "sip:bob@127.0.0.1:5070", "--user", "alice"), "offhook: --user and --password go together"),
    (("call", "sip:bob@127.0.0.1:5070", "--audio", "Jabra"),
     "offhook: --audio Jabra: only the null device is supported by offhook call yet"),
    (("call", "tel:+15551234"), "offhook: cannot call tel:+15551234: only sip: and sips: URIs are supported"),
    (("answer", "--password", "x"), "offhook: --user and --password go together"),
    (("answer", "--tls-cert", "c.pem"), "offhook: --tls-cert and --tls-key go together"),
    (("call", "sip:bob@127.0.0.1:5070", "--tls-ca", "/nonexistent/ca.pem"),
     "offhook: cannot load the TLS CA file /nonexistent/ca.pem: No such file or directory"),
])
def test_bad_requests_fail_with_one_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                         message: str) -> None:
    code, err = run(capsys, *argv)
    assert code == 1
    assert err.strip() == message


def test_bad_addresses_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "answer", "--listen", "127.0.0.1:99999")
    assert code == 2 and "bad port in '127.0.0.1:99999'" in err
    code, err = run(capsys, "call", "sip:x@127.0.0.1", "--duration", "-1")
    assert code == 2 and "--duration must be positive" in err


def test_registrar_that_does_not_answer(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import offhook.sip.agent as agent
    real = agent.SipAgent.register

    async def quick(self: agent.SipAgent, registration: object, timeout: float = 40.0) -> object:
        return await real(self, registration, timeout=1.0)   # type: ignore[arg-type]

    monkeypatch.setattr(agent.SipAgent, "register", quick)
    port = free_port()   # nothing listens there
    code, err = run(capsys, "call", f"sip:bob@127.0.0.1:{port}", "--user", "a", "--password", "p",
                    "--registrar", f"127.0.0.1:{port}")
    assert code == 1
    assert err.strip() == f"offhook: no answer from the registrar at 127.0.0.1:{port}"


def test_listen_on_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        code, err = run(capsys, "answer", "--listen", f"127.0.0.1:{port}", "--auto")
    assert code == 1
    assert err.startswith(f"offhook: cannot listen for SIP on 127.0.0.1:{port}:")


@pytest.mark.parametrize("argv, message", [
    (("register", "--user", "a", "--password", "p", "--registrar", "127.0.0.1:x"),
     "offhook: bad port in '127.0.0.1:x': want 0..65535"),
    (("register", "--user", "a", "--password", "p", "--registrar", "127.0.0.1", "--expires", "0"),
     "--expires wants 1..86400 seconds, not '0'"),
    (("register", "--user", "a", "--registrar", "127.0.0.1"),
     "the following arguments are required: --password"),
])
def test_register_argument_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                  message: str) -> None:
    code, err = run(capsys, *argv)
    assert code in (1, 2)
    assert message in err.strip().splitlines()[-1]


def test_register_against_nothing_fails_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()   # nothing listens: the TCP connection is refused at once
    code, err = run(capsys, "register", "--user", "a", "--password", "p", "--registrar",
                    f"127.0.0.1:{port}", "--transport", "tcp", "--once")
    assert code == 1
    assert err.strip() == f"offhook: cannot connect over TCP to 127.0.0.1:{port}: connection refused"
