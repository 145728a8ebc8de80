"""Phone configuration: TOML -> dataclasses, errors naming the key, passwords never shown."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from offhook.phone.config import ConfigError, PhoneConfig, load_config, parse_config

FULL = """
[phone]
listen = "127.0.0.1:5090"
history = "hist.sqlite"
contacts = ["team.vcf", "/abs/friends.csv"]
tone_profile = "etsi"

[[account]]
name = "work"
user = "alice"
password = "s3cr3t-pw"
registrar = "sip.example.com"
transport = "tls"
display_name = "Alice A"
srtp = "optional"
allowed_sources = ["10.0.0.7"]
expires = 600

[[account]]
user = "bob"
listen = "127.0.0.1:0"

[audio]
capture = "Jabra Evolve 40 (USB)"
playback = "Jabra Evolve 40 (USB)"
ringer = "Built-in Speakers"
capture_fallback = ["Built-in Audio", "USB Speakerphone"]
playback_fallback = "Built-in Audio"

[policy]
dnd = true
dnd_status = 603
auto_answer = true
auto_answer_after = 2.5
forward_busy = "sip:voicemail@example.com"
forward_no_answer = "sip:mobile@example.com"
forward_no_answer_after = 15

[speed_dial]
1 = "sip:carol@example.com"
2 = "Dave"
"""


def test_full_config_reads_every_table(tmp_path: Path) -> None:
    cfg = parse_config(FULL, base=tmp_path)
    work, bob = cfg.accounts
    assert work.name == "work" and work.user == "alice" and work.password == "s3cr3t-pw"
    assert work.registrar == ("sip.example.com", 5061)       # TLS default port
    assert work.sip_domain == "sip.example.com"
    assert (work.transport, work.srtp, work.expires) == ("tls", "optional", 600)
    assert work.allowed_sources == ("10.0.0.7",) and work.display_name == "Alice A"
    assert bob.name == "bob@127.0.0.1" and bob.registrar is None and bob.password is None
    assert cfg.audio.capture == "Jabra Evolve 40 (USB)" and cfg.audio.ringer_device == "Built-in Speakers"
    assert cfg.audio.capture_fallback == ("Built-in Audio", "USB Speakerphone")
    assert cfg.audio.playback_fallback == ("Built-in Audio",)
    assert cfg.policy.dnd and cfg.policy.dnd_status == 603 and cfg.policy.auto_answer_after == 2.5
    assert cfg.policy.forward_no_answer_after == 15.0
    assert cfg.speed_dial == {"1": "sip:carol@example.com", "2": "Dave"}
    assert cfg.history == tmp_path / "hist.sqlite"
    assert cfg.contacts == (tmp_path / "team.vcf", Path("/abs/friends.csv"))
    assert cfg.listen == ("127.0.0.1", 5090) and cfg.tone_profile == "etsi"
    assert cfg.account("work") is work and cfg.account() is work


def test_password_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    cfg = parse_config(FULL)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("offhook.test").info("config %r / %s", cfg, cfg.accounts[0])
    assert "s3cr3t-pw" not in repr(cfg) and "s3cr3t-pw" not in str(cfg.accounts)
    assert "s3cr3t-pw" not in caplog.text and "'***'" in caplog.text


@pytest.mark.parametrize(("text", "message"), [
    ('[[account]]\nuser = "a"\ntransport = "sctp"',
     "config.toml: account[0].transport: must be one of udp, tcp, tls, not 'sctp'"),
    ('[[account]]\nuser = "a"\nregistrar = "h:99999"\npassword="x"',
     "account[0].registrar: bad port in 'h:99999'"),
    ('[[account]]\nuser = "a"\nregistrar = "h"', "account[0].password: is required with a registrar"),
    ('[[account]]\npassword = "x"', "account[0].user: is required"),
    ('[[account]]\nuser = "a"\nusr = "b"', "account[0].usr: unknown key"),
    ('[policy]\ndnd = "yes"', "policy.dnd: must be true or false, not 'yes'"),
    ('[policy]\ndnd_status = 404', "policy.dnd_status: must be 486, 480 or 603, not 404"),
    ('[policy]\nforward = "bob"', "policy.forward: must be a sip:, sips: or tel: URI, not 'bob'"),
    ('[policy]\nauto_answer_after = -1', "policy.auto_answer_after: must be a number from 0 to 3600"),
    ('[speed_dial]\n1 = 5', "speed_dial.1: must be a non-empty string, not 5"),
    ('[phone]\ntone_profile = "mars"', "phone.tone_profile: must be one of us, etsi, uk"),
    ('[phone]\ncodecs = ["G729"]', "phone.codecs: 'G729' is not one of opus, G722, PCMU, PCMA"),
    ('[phone]\ncodecs = ["PCMU", "PCMU"]', "phone.codecs: names a codec twice"),
    ('account = 3', "account: must be an array of tables"),
    ('[audoi]\ncapture="x"', "audoi: unknown key"),
    ('[audio]\ncapture_fallback = [3]', "audio.capture_fallback: must be a list of strings, not [3]"),
    ('[[account]]\nuser="a"\n[[account]]\nuser="a"', "account names must differ: 'a@0.0.0.0' is used twice"),
    ("[phone\n", "config.toml: not valid TOML"),
])
def test_bad_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_silence_suppression_is_off_unless_asked_for() -> None:
    assert not parse_config("").silence_suppression
    assert parse_config("[phone]\nsilence_suppression = true").silence_suppression
    with pytest.raises(ConfigError, match=r"phone\.silence_suppression: must be true or false"):
        parse_config('[phone]\nsilence_suppression = "on"')


def test_codecs_in_order_of_preference() -> None:
    assert parse_config("").codecs == ("opus", "G722", "PCMU", "PCMA")
    assert parse_config('[phone]\ncodecs = ["PCMA", "G722"]').codecs == ("PCMA", "G722")


def test_load_config_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config() == PhoneConfig()          # no default file: empty config
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")
    path = tmp_path / ".config" / "offhook" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[[account]]\nuser = "z"\ntransport = "carrier pigeon"\n')
    with pytest.raises(ConfigError, match=r"config\.toml: account\[0\]\.transport"):
        load_config()
    with pytest.raises(ConfigError, match="no account named 'x' \\(accounts: none configured\\)"):
        PhoneConfig().account("x")


def test_offhook_phone_is_the_public_name() -> None:
    import offhook
    from offhook.phone import Call, Phone
    assert offhook.Phone is Phone and offhook.Call is Call
    with pytest.raises(AttributeError, match="no attribute 'Fone'"):
        offhook.Fone  # noqa: B018
