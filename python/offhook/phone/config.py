"""The phone's configuration: one TOML file (`~/.config/offhook/config.toml`) -> typed dataclasses.

    config = load_config()                       # or load_config(path), parse_config(text)
    config.accounts[0].registrar                 # ("sip.example.com", 5060)

Layout (every table optional; unknown keys are errors, so a typo never goes unnoticed):

    [phone]
    listen = "0.0.0.0:0"            # SIP address for peer-to-peer use (no account)
    history = "~/.local/share/offhook/history.sqlite"
    contacts = ["~/contacts.vcf", "~/team.csv"]
    tone_profile = "us"             # us | etsi | uk  (ringback, busy, call waiting)
    codecs = ["opus", "G722", "PCMU", "PCMA"]  # offered and accepted, in order of preference
    srtp = "off"                    # the peer-to-peer line's SRTP (accounts have their own)
    tls_cert = "~/sip.pem"          # certificate chain + key to listen on TLS (sips:)
    tls_key = "~/sip.key"
    tls_ca = "~/corp-ca.pem"        # trust only this CA for TLS servers (default: the system's)
    tls_insecure_no_verify = false  # DANGER: accept any TLS server certificate
    dns_server = "10.0.0.53:53"     # DNS server for every line (default: /etc/resolv.conf's)

    [[account]]
    name = "work"                   # default: user@domain
    user = "alice"
    password = "secret"             # never logged: repr() shows '***'
    registrar = "sip.example.com:5060"   # without a port ("example.com"): its servers are
                                    # found by NAPTR/SRV (RFC 3263), failing over in order
    dns_server = "127.0.0.1:5353"   # this account's DNS server (port default 53)
    domain = "example.com"          # for dialled numbers; default: the registrar's host
    transport = "udp"               # udp | tcp | tls
    display_name = "Alice"
    srtp = "off"                    # off | optional | required
    allowed_sources = ["10.0.0.7"]  # who else may call us while registered
    expires = 300
    listen = "0.0.0.0:0"

    [cti]                           # screen pops and call hooks: see offhook/cti/config.py
    [web]                           # read by `offhook web`

    [audio]
    capture = "null"                # a device name, or "null"
    playback = "null"
    ringer = "null"                 # where the ring tone goes (default: playback)
    echo_canceller = true           # in the capture path, with what was played as reference
    capture_fallback = ["Built-in Audio"]   # when the device in use is unplugged mid-call:
    playback_fallback = ["Built-in Audio"]  # these, in order, then the system default

    [hid]                           # a USB headset / USB phone (HID telephony page)
    device = "auto"                 # "auto" (the first telephony device), "0b0e:245e"
                                    # (vendor:product, hex) or a name ("Jabra Evolve")

    [policy]                        # incoming calls (sip.message_im.CallPolicy)
    dnd = false
    dnd_status = 486                # 486 | 480 | 603
    auto_answer = false
    auto_answer_after = 0.0
    call_waiting = true
    max_calls = 4
    forward = "sip:voicemail@example.com"         # unconditional
    forward_busy = "sip:..."
    forward_no_answer = "sip:..."
    forward_no_answer_after = 20.0

    [speed_dial]
    1 = "sip:bob@example.com"       # a URI, a number or a contact name

Host names (a registrar, a dialled sip:bob@example.com) are located by RFC 3263
(NAPTR, SRV, A/AAAA; sip/resolve.py) through `dns_server` or the system's
nameservers, falling back to getaddrinfo (/etc/hosts...) when DNS knows nothing.

Errors are ConfigError (a ValueError) naming the file and the key: `config.toml:
account[0].transport: must be one of udp, tcp, tls, not 'sctp'`.
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from offhook.errors import OffhookError

if TYPE_CHECKING:
    from offhook.cti import CtiConfig

__all__ = [
    "DEFAULT_PATH",
    "AccountConfig",
    "AudioConfig",
    "ConfigError",
    "HidConfig",
    "PhoneConfig",
    "PolicyConfig",
    "load_config",
    "parse_config",
]

DEFAULT_PATH = Path("~/.config/offhook/config.toml")
# The codecs a call may use (their SDP names), in the default order of preference:
# wideband first, G.711 for everything else.
CODECS = ("opus", "G722", "PCMU", "PCMA")
Address = tuple[str, int]
Transport = Literal["udp", "tcp", "tls"]
SrtpPolicy = Literal["off", "optional", "required"]


class ConfigError(OffhookError, ValueError):
    """The configuration file is unreadable or a key has a bad value; str() names the key."""


def _redacted(secret: str | None) -> str:
    return "None" if secret is None else "'***'"


@dataclass(frozen=True)
class AccountConfig:
    user: str
    password: str | None = field(default=None, repr=False)
    registrar: Address | None = None
    domain: str | None = None
    transport: Transport = "udp"
    display_name: str | None = None
    srtp: SrtpPolicy = "off"
    allowed_sources: tuple[str, ...] = ()
    expires: int = 300
    listen: Address = ("0.0.0.0", 0)
    name: str = ""
    dns_server: Address | None = None   # None: the [phone] one, else /etc/resolv.conf's
    registrar_srv: bool = False         # registrar given without a port: locate it by NAPTR/SRV

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"{self.user}@{self.sip_domain}")

    @property
    def domain_uri(self) -> tuple[str, int | None]:
        """Host and port (None: the default) of our address of record: `domain`, else the
        registrar (its port when not the transport's default), else the listen address."""
        if self.domain:
            return self.domain, None
        if self.registrar is not None:
            host, port = self.registrar
            return host, (None if port == (5061 if self.transport == "tls" else 5060) else port)
        return self.listen[0], None

    @property
    def sip_domain(self) -> str:
        """The domain dialled numbers go to: `domain`, else the registrar's host, else the listen host."""
        if self.domain:
            return self.domain
        host, port = self.domain_uri
        return host if port is None else f"{host}:{port}"

    def __repr__(self) -> str:   # the password never shows
        return (f"AccountConfig(name={self.name!r}, user={self.user!r}, password={_redacted(self.password)}, "
                f"registrar={self.registrar!r}, domain={self.domain!r}, transport={self.transport!r}, "
                f"srtp={self.srtp!r})")


@dataclass(frozen=True)
class AudioConfig:
    capture: str = "null"
    playback: str = "null"
    ringer: str | None = None
    echo_canceller: bool = True
    capture_fallback: tuple[str, ...] = ()
    playback_fallback: tuple[str, ...] = ()

    @property
    def ringer_device(self) -> str:
        return self.ringer if self.ringer is not None else self.playback


@dataclass(frozen=True)
class HidConfig:
    """Which USB HID telephony device drives the phone: `device` as written ("auto", a
    "vvvv:pppp" id pair in hex, or a name matched case-insensitively against the
    manufacturer and product strings); vendor_id/product_id/name are what it says."""

    device: str = "auto"
    vendor_id: int | None = None
    product_id: int | None = None
    name: str | None = None

    @property
    def auto(self) -> bool:
        return self.vendor_id is None and self.name is None


def parse_hid_device(text: str) -> HidConfig:
    """"auto", "vvvv:pppp" (hex USB ids) or a device name -> HidConfig; ValueError if an
    id pair is malformed."""
    text = text.strip()
    if text.lower() == "auto":
        return HidConfig()
    if ":" in text:
        vid, _, pid = text.partition(":")
        try:
            ids = [int(part, 16) for part in (vid, pid)]
        except ValueError:
            ids = []
        if len(ids) != 2 or not all(0 <= i <= 0xFFFF for i in ids) or not all(
                1 <= len(part) <= 4 for part in (vid, pid)):
            raise ValueError(f"{text!r} is not a vendor:product id pair in hex, like \"0b0e:245e\"")
        return HidConfig(device=text, vendor_id=ids[0], product_id=ids[1])
    return HidConfig(device=text, name=text)


@dataclass(frozen=True)
class PolicyConfig:
    dnd: bool = False
    dnd_status: int = 486
    auto_answer: bool = False
    auto_answer_after: float = 0.0
    call_waiting: bool = True
    max_calls: int = 4
    forward: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    forward_no_answer_after: float = 20.0


@dataclass(frozen=True)
class PhoneConfig:
    accounts: tuple[AccountConfig, ...] = ()
    audio: AudioConfig = field(default_factory=AudioConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    speed_dial: Mapping[str, str] = field(default_factory=dict)
    listen: Address = ("127.0.0.1", 0)
    history: Path | None = None
    contacts: tuple[Path, ...] = ()
    tone_profile: str = "us"
    codecs: tuple[str, ...] = CODECS
    srtp: SrtpPolicy = "off"        # the peer-to-peer line's (each account has its own)
    tls_cert: Path | None = None    # PEM chain: listen on TLS too (SIP port + 1 beside UDP/TCP)
    tls_key: Path | None = None
    tls_ca: Path | None = None      # trust only this CA for TLS servers (None: the system's)
    tls_insecure_no_verify: bool = False   # DANGER: certificate verification off
    cti: CtiConfig | None = None    # [cti]: screen pops and hooks for the phone's calls
    web: Mapping[str, object] = field(default_factory=dict)   # [web], for `offhook web`
    dns_server: Address | None = None   # for every line (None: the nameservers of /etc/resolv.conf)
    hid: HidConfig | None = None    # [hid]: a USB headset or phone drives the calls
    silence_suppression: bool = False   # send no frames in pauses, comfort noise instead (RFC 3389),
                                        # on calls whose peer agreed CN

    def account(self, name: str | None = None) -> AccountConfig | None:
        """The account called `name` (ConfigError if none is), or the first one (None without any)."""
        if name is None:
            return self.accounts[0] if self.accounts else None
        for acc in self.accounts:
            if acc.name == name:
                return acc
        known = ", ".join(a.name for a in self.accounts) or "none configured"
        raise ConfigError(f"no account named {name!r} (accounts: {known})")


# --- parsing ---------------------------------------------------------------------------------


class _Table:
    """A TOML table being read: typed getters that name the key in their errors."""

    def __init__(self, data: object, where: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: {where}: must be a table, not {type(data).__name__}")
        self.data: dict[str, object] = data
        self.where = where
        self.source = source
        self.used: set[str] = set()

    def error(self, key: str, message: str) -> ConfigError:
        path = f"{self.where}.{key}" if self.where else key
        return ConfigError(f"{self.source}: {path}: {message}")

    def _get(self, key: str) -> object:
        self.used.add(key)
        return self.data.get(key)

    def get_str(self, key: str, default: str | None = None) -> str | None:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def get_required_str(self, key: str) -> str:
        value = self.get_str(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def get_choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get_str(key, default)
        assert value is not None  # a default was given
        if value.lower() not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value.lower()

    def get_bool(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def get_number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.error(key, f"must be a number from {low:g} to {high:g}, not {value!r}")
        return float(value)

    def get_int(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"must be an integer from {low} to {high}, not {value!r}")
        return value

    def get_str_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"must be a list of strings, not {value!r}")
        return tuple(cast(list[str], value))

    def get_address(self, key: str, default_port: int, default: Address | None = None) -> Address | None:
        text = self.get_str(key)
        if text is None:
            return default
        try:
            return parse_host_port(text, default_port)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def get_uri(self, key: str) -> str | None:
        text = self.get_str(key)
        if text is not None and not text.lower().startswith(("sip:", "sips:", "tel:")):
            raise self.error(key, f"must be a sip:, sips: or tel: URI, not {text!r}")
        return text

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], f"unknown key (known here: {', '.join(sorted(self.used))})")


def parse_host_port(text: str, default_port: int) -> Address:
    """"host:port", "[v6]:port" or a bare host (default_port): ValueError naming what is wrong."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"{text!r} has no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"bad port in {text!r}: want 0..65535")
    return host, int(port_text)


def has_port(text: str) -> bool:
    """Whether a host[:port] text names its port ("[::1]:5060", "pbx:5060" yes; "pbx", "::1" no)."""
    try:
        return parse_host_port(text, -1)[1] != -1
    except ValueError:
        return False


def _path(text: str, base: Path | None) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _account(data: object, index: int, source: str) -> AccountConfig:
    t = _Table(data, f"account[{index}]", source)
    transport = t.get_choice("transport", ("udp", "tcp", "tls"), "udp")
    default_port = 5061 if transport == "tls" else 5060
    user = t.get_required_str("user")
    password = t.get_str("password")
    registrar = t.get_address("registrar", default_port)
    registrar_srv = registrar is not None and not has_port(t.get_str("registrar") or "")
    if registrar is not None and password is None:
        raise t.error("password", "is required with a registrar")
    acc = AccountConfig(
        user=user, password=password, registrar=registrar, domain=t.get_str("domain"),
        transport=cast(Transport, transport), display_name=t.get_str("display_name"),
        srtp=cast(SrtpPolicy, t.get_choice("srtp", ("off", "optional", "required"), "off")),
        allowed_sources=t.get_str_list("allowed_sources"),
        expires=t.get_int("expires", 300, 60, 86400),
        listen=t.get_address("listen", 0, ("0.0.0.0", 0)) or ("0.0.0.0", 0),
        name=t.get_str("name") or "", dns_server=t.get_address("dns_server", 53),
        registrar_srv=registrar_srv)
    t.finish()
    return acc


def _policy(data: object, source: str) -> PolicyConfig:
    t = _Table(data, "policy", source)
    status = t.get_int("dnd_status", 486, 400, 699)
    if status not in (486, 480, 603):
        raise t.error("dnd_status", f"must be 486, 480 or 603, not {status}")
    policy = PolicyConfig(
        dnd=t.get_bool("dnd", False), dnd_status=status, auto_answer=t.get_bool("auto_answer", False),
        auto_answer_after=t.get_number("auto_answer_after", 0.0, 0.0, 3600.0),
        call_waiting=t.get_bool("call_waiting", True), max_calls=t.get_int("max_calls", 4, 1, 64),
        forward=t.get_uri("forward"), forward_busy=t.get_uri("forward_busy"),
        forward_no_answer=t.get_uri("forward_no_answer"),
        forward_no_answer_after=t.get_number("forward_no_answer_after", 20.0, 0.0, 3600.0))
    t.finish()
    return policy


def _hid(data: object, source: str) -> HidConfig | None:
    if data is None:
        return None
    t = _Table(data, "hid", source)
    text = t.get_str("device", "auto")
    assert text is not None  # a default was given
    try:
        hid = parse_hid_device(text)
    except ValueError as exc:
        raise t.error("device", f"{exc} (or \"auto\", or a device name)") from None
    t.finish()
    return hid


def parse_config(text: str, *, source: str = "config.toml", base: Path | None = None) -> PhoneConfig:
    """A PhoneConfig from TOML text; relative paths are taken from `base` (the file's folder)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    root = _Table(data, "", source)
    accounts_data = root._get("account")
    if accounts_data is None:
        accounts_data = []
    if not isinstance(accounts_data, list):
        raise root.error("account", "must be an array of tables ([[account]])")
    accounts = tuple(_account(a, i, source) for i, a in enumerate(accounts_data))
    names = [a.name for a in accounts]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{source}: account names must differ: {name!r} is used twice")

    phone = _Table(root._get("phone") or {}, "phone", source)
    history = phone.get_str("history")
    contacts = tuple(_path(p, base) for p in phone.get_str_list("contacts"))
    profile = phone.get_choice("tone_profile", ("us", "etsi", "uk"), "us")
    listen = phone.get_address("listen", 0, ("127.0.0.1", 0)) or ("127.0.0.1", 0)
    srtp = cast(SrtpPolicy, phone.get_choice("srtp", ("off", "optional", "required"), "off"))
    codecs = phone.get_str_list("codecs") or CODECS
    for name in codecs:
        if name not in CODECS:
            raise phone.error("codecs", f"{name!r} is not one of {', '.join(CODECS)}")
    if len(set(codecs)) != len(codecs):
        raise phone.error("codecs", "names a codec twice")
    tls: dict[str, Path | None] = {}
    for key in ("tls_cert", "tls_key", "tls_ca"):
        value = phone.get_str(key)
        tls[key] = _path(value, base) if value else None
    if (tls["tls_cert"] is None) != (tls["tls_key"] is None):
        raise phone.error("tls_key" if tls["tls_key"] is None else "tls_cert",
                          "tls_cert and tls_key go together")
    insecure = phone.get_bool("tls_insecure_no_verify", False)
    dns_server = phone.get_address("dns_server", 53)
    silence_suppression = phone.get_bool("silence_suppression", False)
    phone.finish()

    audio_t = _Table(root._get("audio") or {}, "audio", source)
    audio = AudioConfig(capture=audio_t.get_str("capture", "null") or "null",
                        playback=audio_t.get_str("playback", "null") or "null",
                        ringer=audio_t.get_str("ringer"),
                        echo_canceller=audio_t.get_bool("echo_canceller", True),
                        capture_fallback=audio_t.get_str_list("capture_fallback"),
                        playback_fallback=audio_t.get_str_list("playback_fallback"))
    audio_t.finish()

    policy = _policy(root._get("policy") or {}, source)
    hid = _hid(root._get("hid"), source)
    cti_table = root._get("cti")
    cti = None
    if cti_table is not None:
        from offhook.cti import parse_config as parse_cti
        cti = parse_cti({"cti": cti_table}, base_dir=base or ".")
    web = root._get("web") or {}
    if not isinstance(web, dict):
        raise root.error("web", "must be a table ([web])")

    speed_t = _Table(root._get("speed_dial") or {}, "speed_dial", source)
    speed: dict[str, str] = {}
    for key in list(speed_t.data):
        value = speed_t.get_str(key)
        if value is not None:
            speed[key] = value
    speed_t.finish()
    root.finish()
    return PhoneConfig(accounts=accounts, audio=audio, policy=policy, speed_dial=speed, listen=listen,
                       history=_path(history, base) if history else None, contacts=contacts,
                       tone_profile=profile, codecs=codecs, srtp=srtp, tls_cert=tls["tls_cert"],
                       tls_key=tls["tls_key"], tls_ca=tls["tls_ca"], tls_insecure_no_verify=insecure,
                       cti=cti, web=web, dns_server=dns_server, hid=hid,
                       silence_suppression=silence_suppression)


def load_config(path: str | Path | None = None) -> PhoneConfig:
    """Read `path` (default ~/.config/offhook/config.toml; a missing default file = empty config)."""
    explicit = path is not None
    file = Path(path).expanduser() if path is not None else DEFAULT_PATH.expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{file}: no such configuration file") from None
        return PhoneConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return parse_config(text, source=str(file), base=file.parent)
