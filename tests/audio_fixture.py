"""A private PulseAudio daemon with virtual sound cards, seen by PortAudio (pytest plugin).

Use it from a test module with ``pytest_plugins = ["audio_fixture"]`` and the
session-scoped ``virtual_audio`` fixture.  The kernel here has no ALSA card, so
(as ../shared/TESTBED.md found) the path is: PortAudio -> ALSA PCMs from our own
asoundrc -> ALSA ``pulse`` plugin -> our daemon.  Each virtual device is a "cable":
a null sink (playback side) whose monitor is remapped into a source (capture side),
so what is played on it comes back on its input.  A loopback from each monitor into
an internal sink keeps the null sink awake (otherwise new streams wait up to 2 s).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HEADSET = "Jabra Evolve 40 (USB)"
BUILTIN = "Built-in Audio"


def _die_with_parent() -> None:
    """In the daemon's child process: get SIGTERM if pytest dies without its teardown."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class VirtualDevice:
    name: str
    sink: str
    source: str
    modules: list[int] = field(default_factory=list)


class VirtualAudio:
    """A running private PulseAudio daemon plus the ALSA configuration PortAudio reads."""

    def __init__(self) -> None:
        # The socket path must stay under ~100 characters: a short directory in /tmp.
        self.dir = Path(tempfile.mkdtemp(prefix="ohpa", dir="/tmp"))
        self.socket = self.dir / "native"
        self.devices: dict[str, VirtualDevice] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] = {}
        self._count = 0

    # -- daemon ---------------------------------------------------------------------
    def start(self) -> None:
        script = self.dir / "offhook.pa"
        script.write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n"
            "load-module module-null-sink sink_name=oh_keepalive "
            "sink_properties=\"device.description='offhook keep-alive'\"\n"
        )
        (self.dir / "home").mkdir()
        (self.dir / "config" / "alsa").mkdir(parents=True)
        daemon_env = dict(os.environ, HOME=str(self.dir / "home"),
                          XDG_RUNTIME_DIR=str(self.dir), PULSE_RUNTIME_PATH=str(self.dir / "run"))
        with open(self.dir / "daemon.log", "wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                ["pulseaudio", "-n", "-F", str(script), "--daemonize=no", "--system=no",
                 "--use-pid-file=no", "--exit-idle-time=-1", "--realtime=no", "--log-target=stderr"],
                env=daemon_env, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=_die_with_parent,
            )
        self._set_env({
            "PULSE_SERVER": f"unix:{self.socket}",
            "XDG_CONFIG_HOME": str(self.dir / "config"),
            "JACK_NO_START_SERVER": "1",
        })
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(self.dir / 'daemon.log').read_text()[-2000:]}")
            if (self.socket.exists()
                    and subprocess.run(["pactl", "info"], capture_output=True).returncode == 0):
                return
            time.sleep(0.05)
        raise RuntimeError("pulseaudio did not open its socket within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # by pid: only the daemon this fixture started
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(self.dir, ignore_errors=True)

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True).stdout

    # -- devices --------------------------------------------------------------------
    def add_device(self, name: str, *, usb: bool = False) -> VirtualDevice:
        """A loopback cable called `name` (PortAudio device name = ALSA PCM id)."""
        self._count += 1
        sink, source = f"oh_sink{self._count}", f"oh_source{self._count}"
        bus = " device.bus='usb'" if usb else ""
        dev = VirtualDevice(name, sink, source)
        dev.modules.append(int(self.pactl(
            "load-module", "module-null-sink", f"sink_name={sink}",
            f"sink_properties=\"device.description='{name}'{bus}\"")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-remap-source", f"master={sink}.monitor", f"source_name={source}",
            f"source_properties=\"device.description='{name} microphone'{bus}\"")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-loopback", f"source={sink}.monitor", "sink=oh_keepalive")))
        self.devices[name] = dev
        self._write_asoundrc()
        return dev

    def add_delay_device(self, name: str, latency_ms: int) -> VirtualDevice:
        """A device whose input hears its output `latency_ms` later: a null sink for
        playback, a module-loopback (the delay) from its monitor into a second null sink,
        and that sink's monitor remapped as the capture source."""
        self._count += 1
        sink, echo, source = f"oh_sink{self._count}", f"oh_echo{self._count}", f"oh_source{self._count}"
        dev = VirtualDevice(name, sink, source)
        dev.modules.append(int(self.pactl(
            "load-module", "module-null-sink", f"sink_name={sink}",
            f"sink_properties=\"device.description='{name}'\"")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-null-sink", f"sink_name={echo}",
            f"sink_properties=\"device.description='{name} echo path'\"")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-loopback", f"source={sink}.monitor", f"sink={echo}",
            f"latency_msec={latency_ms}", "adjust_time=0")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-remap-source", f"master={echo}.monitor", f"source_name={source}",
            f"source_properties=\"device.description='{name} microphone'\"")))
        dev.modules.append(int(self.pactl(
            "load-module", "module-loopback", f"source={echo}.monitor", "sink=oh_keepalive")))
        self.devices[name] = dev
        self._write_asoundrc()
        return dev

    def remove_device(self, name: str) -> None:
        """Unplug: unload the device's modules and drop its ALSA PCM.

        A USB unplug removes the card and so its PCMs; a ``pulse`` PCM whose sink is
        gone still opens (the plugin does not check the sink), so PortAudio would go on
        listing it: the asoundrc entry goes with the modules.
        """
        dev = self.devices.pop(name)
        self._write_asoundrc()  # as a real unplug: the ALSA card goes first, then the sink
        for module in reversed(dev.modules):
            self.pactl("unload-module", str(module))

    def _write_asoundrc(self) -> None:
        blocks = []
        for dev in self.devices.values():
            blocks.append(
                f'pcm."{dev.name}" {{\n'
                "    type asym\n"
                f"    playback.pcm {{ type pulse device {dev.sink} }}\n"
                f"    capture.pcm {{ type pulse device {dev.source} }}\n"
                f'    hint {{ show on description "{dev.name}" }}\n'
                "}\n"
            )
        # Atomically: a scan running meanwhile must see the old file or the new, never half.
        target = self.dir / "config" / "alsa" / "asoundrc"
        staging = target.with_suffix(".new")
        staging.write_text("".join(blocks))
        os.replace(staging, target)


@pytest.fixture(scope="session")
def virtual_audio() -> Iterator[VirtualAudio]:
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.fail("pulseaudio and pactl are needed: scripts/setup --test installs them")
    audio = VirtualAudio()
    try:
        audio.start()
        audio.add_device(HEADSET, usb=True)
        audio.add_device(BUILTIN)
        from offhook.devices.audio import rescan
        rescan()  # PortAudio may have been initialised before our environment was set
        yield audio
    finally:
        audio.stop()
