"""Presence of network: the sans-I/O state, the rtnetlink parser on captured kernel bytes,
the monitor on a real kernel (a private network namespace the test creates: a veth pair
whose addresses and routes come and go -- nothing leaves the namespace), and the Phone's
reaction with a real registrar (Kamailio on 127.0.0.1): "no network" while the network
is gone, registered again at once when it is back, a new contact when the local address
changed.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import offhook.phone.phone as phone_module
from offhook.cli.console import Console
from offhook.phone import AccountConfig, NetworkChanged, Phone, PhoneConfig, RegistrationChanged
from offhook.phone.network import (
    AddrMessage,
    NetworkMonitor,
    NetworkSnapshot,
    NetworkState,
    RouteMessage,
    parse_netlink,
    usable_address,
)
from sip_peers import kamailio_registrar

DATA = Path(__file__).parent / "data" / "netlink"


def snap(*addresses: str, route: bool = True) -> NetworkSnapshot:
    return NetworkSnapshot.of(addresses, route)


# --- the sans-I/O state ---------------------------------------------------------------------


def test_usable_addresses_exclude_loopback_link_local_and_multicast() -> None:
    assert usable_address("192.0.2.2") and usable_address("fd00::2") and usable_address("10.0.0.7")
    for bad in ("127.0.0.1", "::1", "fe80::1%eth0", "169.254.3.4", "224.0.0.1", "0.0.0.0", "::", "eth0"):
        assert not usable_address(bad), bad


def test_lost_back_and_changed() -> None:
    state = NetworkState()
    assert state.up is None
    assert state.update(snap("192.0.2.2")) is None            # the first snapshot only sets the state
    assert state.up is True
    assert state.update(snap("192.0.2.2", "fe80::1")) is None   # link-local: no change
    lost = state.update(snap("127.0.0.1"))
    assert lost == NetworkChanged("lost", (), ("192.0.2.2",))
    assert state.update(snap()) is None                        # still down
    back = state.update(snap("192.0.2.9"))
    assert back == NetworkChanged("back", ("192.0.2.9",), ())
    changed = state.update(snap("192.0.2.9", "fd00::9"))
    assert changed == NetworkChanged("changed", ("192.0.2.9", "fd00::9"), ("192.0.2.9",))
    # an address without a default route is no network (nothing beyond the link)
    assert state.update(snap("192.0.2.9", route=False)) == NetworkChanged(
        "lost", ("192.0.2.9",), ("192.0.2.9", "fd00::9"))


@given(st.lists(st.tuples(st.sets(st.sampled_from(
    ["10.0.0.1", "10.0.0.2", "fd00::1", "127.0.0.1", "fe80::1"]), max_size=3), st.booleans()), max_size=12))
def test_every_transition_is_reported_once(steps: list[tuple[set[str], bool]]) -> None:
    """Whatever the sequence: a "lost" exactly when up turns down, a "back" exactly when it
    turns up, a "changed" only while up with other usable addresses."""
    state = NetworkState()
    before: NetworkSnapshot | None = None
    for addresses, route in steps:
        now = snap(*addresses, route=route)
        change = state.update(now)
        if before is None:
            assert change is None
        elif before.up != now.up:
            assert change is not None and change.kind == ("back" if now.up else "lost")
        elif now.up and before.addresses != now.addresses:
            assert change is not None and change.kind == "changed"
        else:
            assert change is None
        before = now


# --- the rtnetlink parser on captured bytes ------------------------------------------------------


def captured() -> list[tuple[str, bytes]]:
    out = []
    for line in (DATA / "captured.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            step, hexdata = line.split()
            out.append((step, bytes.fromhex(hexdata)))
    return out


def test_parser_reads_the_kernels_address_and_route_notifications() -> None:
    steps = captured()
    added = [m for step, data in steps if step == "addr4" for m in parse_netlink(data).messages]
    new_addr = [m for m in added if isinstance(m, AddrMessage)]
    assert len(new_addr) == 1
    assert new_addr[0].kind == "new" and new_addr[0].address == "10.99.0.1"
    assert new_addr[0].prefixlen == 24 and new_addr[0].settled
    routes = [m for step, data in steps if step == "route" for m in parse_netlink(data).messages]
    defaults = [m for m in routes if isinstance(m, RouteMessage) and m.default]
    assert len(defaults) == 1 and defaults[0].kind == "new" and defaults[0].table == 254
    every = [m for _step, data in steps for m in parse_netlink(data).messages]
    v6 = [m for m in every if isinstance(m, AddrMessage) and ":" in m.address]
    assert v6 and all(not usable_address(m.address) for m in v6)   # the veths' fe80:: addresses
    gone = [m for step, data in steps if step == "del4" for m in parse_netlink(data).messages]
    assert next(m.address for m in gone if isinstance(m, AddrMessage) and m.kind == "del") == "10.99.0.1"
    # the local/broadcast routes the kernel adds with an address are not default routes
    assert not any(isinstance(m, RouteMessage) and m.default for step, data in steps if step != "route"
                   for m in parse_netlink(data).messages)


def test_parser_survives_truncated_and_garbage_input() -> None:
    data = captured()[4][1]
    for cut in range(len(data)):
        batch = parse_netlink(data[:cut])
        assert all(isinstance(m, (AddrMessage, RouteMessage)) for m in batch.messages)
    assert parse_netlink(b"\xff" * 40).messages == []
    done = (16).to_bytes(4, "little") + (3).to_bytes(2, "little") + bytes(10)
    assert parse_netlink(done).done


# --- the monitor, polling a scripted snapshot ----------------------------------------------------


def test_monitor_polls_and_reports_changes() -> None:
    now = [snap("192.0.2.2")]
    seen: list[NetworkChanged] = []

    async def run() -> None:
        monitor = NetworkMonitor(seen.append, snapshot=lambda: now[0], poll_interval=0.02)
        await monitor.start()
        assert monitor.up is True and not monitor.using_netlink
        now[0] = snap()
        await asyncio.sleep(0.15)
        assert monitor.up is False
        now[0] = snap("192.0.2.3")
        await asyncio.sleep(0.15)
        await monitor.stop()

    asyncio.run(run())
    assert [(c.kind, c.addresses) for c in seen] == [("lost", ()), ("back", ("192.0.2.3",))]


def test_the_probe_fallback_agrees_with_netlink() -> None:
    """Without netlink the monitor asks the kernel which source address it would use towards
    documentation addresses: one of the addresses the netlink dump lists."""
    from offhook.phone.network import netlink_snapshot, probe_snapshot
    probed, dumped = probe_snapshot(), netlink_snapshot()
    assert probed.addresses <= dumped.addresses
    assert probed.up == bool(probed.addresses)
    if dumped.up:
        assert probed.up       # a default route: the kernel has a source address for the world


def test_monitor_reads_this_machines_network() -> None:
    """The real dumps here: every address it reports is usable and the monitor agrees with
    the snapshot's own verdict."""
    async def run() -> NetworkMonitor:
        monitor = NetworkMonitor()
        await monitor.start()
        await monitor.stop()
        return monitor

    monitor = asyncio.run(run())
    assert all(usable_address(a) for a in monitor.snapshot.addresses)
    assert monitor.up == monitor.snapshot.up


# --- the real kernel: a private network namespace ------------------------------------------------

NETNS_SCRIPT = textwrap.dedent("""
    import asyncio, json, subprocess
    from offhook.phone.network import NetworkMonitor

    def sh(cmd):
        subprocess.run(cmd, shell=True, check=True)

    async def main():
        seen = []
        monitor = NetworkMonitor(seen.append, poll_interval=30.0, settle=0.1)
        await monitor.start()
        first = monitor.up
        netlink = monitor.using_netlink

        async def step(cmd):
            before = len(seen)
            sh(cmd)
            for _ in range(100):          # up to 2 s; the 30 s poll never fires: netlink did it
                await asyncio.sleep(0.02)
                if len(seen) > before:
                    break

        sh("ip link set lo up && ip link add oh0 type veth peer name oh1")
        sh("ip link set oh0 up && ip link set oh1 up")
        await step("ip addr add 10.99.0.1/24 dev oh0 && ip route add default via 10.99.0.254")
        await step("ip addr add 10.99.0.2/24 dev oh0")
        await step("ip route del default")
        await step("ip route add default via 10.99.0.254")
        await step("ip addr flush dev oh0")
        await monitor.stop()
        print(json.dumps({"first": first, "netlink": netlink,
                          "seen": [[c.kind, list(c.addresses)] for c in seen]}))

    asyncio.run(main())
""")


def test_monitor_follows_a_real_kernel_in_a_private_network_namespace(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is missing")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a network namespace here (not root?): {probe.stderr.decode().strip()}")
    script = tmp_path / "netns.py"
    script.write_text(NETNS_SCRIPT)
    proc = subprocess.run([unshare, "-n", sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["first"] is False and result["netlink"] is True     # only lo: no network
    assert result["seen"] == [
        ["back", ["10.99.0.1"]],
        ["changed", ["10.99.0.1", "10.99.0.2"]],
        ["lost", ["10.99.0.1", "10.99.0.2"]],           # no default route
        ["back", ["10.99.0.1", "10.99.0.2"]],
        ["lost", []],
    ], result


PHONE_NETNS_SCRIPT = textwrap.dedent("""
    import asyncio, json, subprocess, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])                  # tests/: the project's Kamailio recipe
    from sip_peers import kamailio_registrar
    from offhook.phone import AccountConfig, NetworkChanged, Phone, PhoneConfig, RegistrationChanged
    from offhook.phone.network import NetworkMonitor

    def sh(cmd):
        subprocess.run(cmd, shell=True, check=True)

    sh("ip link set lo up && ip link add oh0 type veth peer name oh1")
    sh("ip link set oh0 up && ip link set oh1 up")
    registrar = kamailio_registrar(Path(sys.argv[1]))
    port = next(registrar)

    async def main():
        seen = []
        monitor = NetworkMonitor(poll_interval=30.0, settle=0.1)
        acc = AccountConfig(user="alice", password="alicepw", registrar=("127.0.0.1", port),
                            listen=("127.0.0.1", 0), name="alice")
        phone = Phone(PhoneConfig(accounts=(acc,)), network=monitor)
        phone.add_listener(lambda e: seen.append(e.kind if isinstance(e, NetworkChanged) else e.state)
                           if isinstance(e, (NetworkChanged, RegistrationChanged)) else None)

        async def until(state):
            for _ in range(150):
                if phone.registration_state("alice")[0] == state:
                    return
                await asyncio.sleep(0.02)

        await phone.start()
        try:
            sh("ip addr add 10.99.0.1/24 dev oh0 && ip route add default via 10.99.0.254")
            await until("registered")
            sh("ip route del default")
            await until("no network")
            sh("ip route add default via 10.99.0.254")
            await until("registered")
        finally:
            await phone.stop()
        print(json.dumps({"seen": seen}))

    try:
        asyncio.run(main())
    finally:
        next(registrar, None)                         # stops Kamailio (by its pid)
""")


def test_a_phone_in_a_private_network_namespace_follows_the_kernel(tmp_path: Path) -> None:
    """The whole chain on a real kernel: a phone (real netlink monitor, Kamailio on the
    namespace's own loopback) starts with no network, registers when an address and a
    default route appear, shows "no network" when the route goes, and registers again
    when it is back."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is missing")
    if subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here (not root?)")
    script = tmp_path / "phone_netns.py"
    script.write_text(PHONE_NETNS_SCRIPT)
    args = [unshare, "-n", sys.executable, str(script), str(tmp_path), str(Path(__file__).parent)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["seen"] == ["no network", "back", "registering", "registered", "lost", "no network",
                              "back", "registering", "registered", "unregistered"], result


# --- the Phone's reaction, with a real registrar ------------------------------------------------


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    yield from kamailio_registrar(tmp_path)


def test_phone_shows_no_network_and_re_registers_when_it_is_back(
        kamailio: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Network lost: "no network"; back: registered again at once (well before a refresh);
    back on another local address: a new contact on that address.  The console's status
    line and messages say so."""
    now = [snap("192.0.2.2")]
    local = ["127.0.0.1"]
    real = phone_module.local_address_towards
    monkeypatch.setattr(phone_module, "local_address_towards",
                        lambda host: local[0] if host == "127.0.0.1" else real(host))

    async def run() -> tuple[list[object], list[str], list[str], str]:
        monitor = NetworkMonitor(snapshot=lambda: now[0], poll_interval=0.05, netlink=False)
        acc = AccountConfig(user="alice", password="alicepw", registrar=("127.0.0.1", kamailio),
                            listen=("0.0.0.0", 0), name="alice", expires=3600)
        phone = Phone(PhoneConfig(accounts=(acc,)), network=monitor)
        events: list[object] = []
        phone.add_listener(lambda e: events.append(e)
                           if isinstance(e, (RegistrationChanged, NetworkChanged)) else None)
        contacts = []
        screen: list[str] = []
        console = Console(phone, screen.append)
        status = []
        await phone.start()
        try:
            assert phone.registration_state("alice") == ("registered", "")
            status.append(console.status_line())
            contacts.append(phone.lines["alice"].agent.ua.contact.host)
            now[0] = snap()
            await until(lambda: phone.registration_state("alice")[0] == "no network")
            status.append(console.status_line())
            now[0] = snap("192.0.2.2")
            await until(lambda: phone.registration_state("alice") == ("registered", ""), 3.0)
            now[0] = snap()
            await until(lambda: phone.registration_state("alice")[0] == "no network")
            local[0] = "127.0.0.2"              # back on another address
            now[0] = snap("192.0.2.7")
            await until(lambda: phone.registration_state("alice") == ("registered", ""), 3.0)
            contacts.append(phone.lines["alice"].agent.ua.contact.host)
            reg = phone.lines["alice"].registration
            assert reg is not None and reg.contact.host == "127.0.0.2"
            status.append(console.status_line())
        finally:
            await phone.stop()
        return events, contacts, status, "".join(screen)

    events, contacts, status, screen = asyncio.run(run())
    assert contacts == ["127.0.0.1", "127.0.0.2"]
    assert status[0].startswith("alice: registered | net: 192.0.2.2 | idle"), status
    assert status[1].startswith("alice: no network | no network | idle"), status
    assert status[2].startswith("alice: registered | net: 192.0.2.7 | idle"), status
    assert "network lost: calls and registrations wait for it" in screen
    assert "network back (192.0.2.7): registering again" in screen
    summary = [(e.kind if isinstance(e, NetworkChanged) else e.state) for e in events  # type: ignore[attr-defined]
               ]
    assert summary == ["registering", "registered", "lost", "no network", "back", "registering", "registered",
                       "lost", "no network", "back", "registering", "registered", "unregistered"], summary


async def until(predicate: object, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


def test_a_phone_started_without_network_registers_when_it_comes(kamailio: int) -> None:
    """Started with no network: start() does not wait for REGISTER timeouts, the account
    shows "no network"; the network comes: registered."""
    now = [snap()]

    async def run() -> list[tuple[str, str]]:
        monitor = NetworkMonitor(snapshot=lambda: now[0], poll_interval=0.05, netlink=False)
        acc = AccountConfig(user="alice", password="alicepw", registrar=("127.0.0.1", kamailio),
                            listen=("127.0.0.1", 0), name="alice")
        phone = Phone(PhoneConfig(accounts=(acc,)), network=monitor)
        states = []
        async with asyncio.timeout(2.0):    # no registrar round trip, no 10 s timeout
            await phone.start()
        try:
            states.append(phone.registration_state("alice"))
            now[0] = snap("192.0.2.2")
            await until(lambda: phone.registration_state("alice") == ("registered", ""), 3.0)
            states.append(phone.registration_state("alice"))
        finally:
            await phone.stop()
        return states

    assert asyncio.run(run()) == [("no network", "the network is gone"), ("registered", "")]
