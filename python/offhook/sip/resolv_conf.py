"""The system's DNS servers: a small, pure reader of /etc/resolv.conf (resolv.conf(5)).

    conf = parse_resolv_conf(Path("/etc/resolv.conf").read_text())
    conf.nameservers        # (("10.0.0.53", 53), ("2001:db8::53", 53))
    conf.problems           # ("line 4: 'nameserver' needs an IP address", ...)

What it reads, as glibc does: `nameserver ADDRESS` lines (IPv4 or IPv6, an IPv6
zone `%eth0` kept, always port 53: the file cannot name another), at most three
(MAXNS; later ones are ignored, as glibc ignores them) and `options timeout:N
attempts:N` (seconds per try, tries per server; clamped to glibc's 30 s and 5).
Comments start with `#` or `;` at the start of a line or after a value. Anything else
(`search`, `domain`, `sortlist`, unknown keywords) is skipped: offhook only needs the
servers. A malformed line never raises: it is skipped and described in `problems`,
so a broken file degrades to fewer servers (and the caller to getaddrinfo), never
to a crash. Bytes that are not UTF-8 are replaced, not fatal.

Unlike glibc, a file without any `nameserver` gives no server (glibc would try
127.0.0.1): offhook then uses getaddrinfo only, which already does what the system
does.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_PATH", "MAX_NAMESERVERS", "ResolvConf", "parse_resolv_conf", "read_resolv_conf"]

DEFAULT_PATH = Path("/etc/resolv.conf")
MAX_NAMESERVERS = 3          # glibc's MAXNS
MAX_BYTES = 64 * 1024        # a resolv.conf is a few lines; more is not a resolv.conf
Address = tuple[str, int]


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[Address, ...] = ()
    timeout: float = 5.0          # seconds per query (options timeout:N)
    attempts: int = 2             # tries per server (options attempts:N)
    problems: tuple[str, ...] = ()


def _strip_comment(line: str) -> str:
    for mark in ("#", ";"):
        cut = line.find(mark)
        if cut >= 0:
            line = line[:cut]
    return line.strip()


def _nameserver(value: str) -> str | None:
    """The address of a nameserver line (None when it is not an IP address)."""
    address, _, zone = value.partition("%")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if zone and (ip.version != 6 or not zone.isprintable() or " " in zone):
        return None
    return f"{ip}%{zone}" if zone else str(ip)


def parse_resolv_conf(text: str | bytes) -> ResolvConf:
    """Read resolv.conf text (see the module docstring); never raises on content."""
    text = text[:MAX_BYTES].decode("utf-8", "replace") if isinstance(text, bytes) else text[:MAX_BYTES]
    servers: list[Address] = []
    timeout, attempts = 5.0, 2
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        keyword, *values = line.split()
        if keyword == "nameserver":
            if len(values) != 1:
                problems.append(f"line {number}: 'nameserver' needs one IP address, got {len(values)} words")
                continue
            address = _nameserver(values[0])
            if address is None:
                problems.append(f"line {number}: 'nameserver {values[0]}' is not an IP address")
            elif (address, 53) in servers:
                continue                         # listed twice: asking it twice helps nobody
            elif len(servers) >= MAX_NAMESERVERS:
                problems.append(f"line {number}: more than {MAX_NAMESERVERS} nameservers, "
                                f"{address} ignored")
            else:
                servers.append((address, 53))
        elif keyword == "options":
            for option in values:
                name, _, number_text = option.partition(":")
                if name not in ("timeout", "attempts"):
                    continue                     # ndots, rotate, edns0...: not ours
                if not number_text.isdigit():
                    problems.append(f"line {number}: option {option!r} needs a whole number")
                elif name == "timeout":
                    timeout = float(min(max(int(number_text), 1), 30))
                else:
                    attempts = min(max(int(number_text), 1), 5)
    return ResolvConf(tuple(servers), timeout, attempts, tuple(problems))


def read_resolv_conf(path: str | Path = DEFAULT_PATH) -> ResolvConf:
    """parse_resolv_conf of a file; a missing or unreadable file is an empty ResolvConf
    whose `problems` says why."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES)
    except OSError as exc:
        return ResolvConf(problems=(f"cannot read {path}: {exc.strerror or exc}",))
    return parse_resolv_conf(data)
