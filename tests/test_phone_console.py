"""The interactive `offhook` console in a pseudo-terminal, with a Phone on loopback as the far end:
keys answer, hold, resume, hang up, dial; the screen shows the states; audio and DTMF measured."""
from __future__ import annotations

import asyncio
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from offhook.media.wav import write_wav
from offhook.phone import CallState, DtmfReceived, Phone, PhoneConfig, PolicyConfig, ToneAudio, WavAudio
from phone_helpers import dominant_hz, recorded
from sip_peers import free_port, stop

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Screen:
    """What the console wrote to the terminal, read as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self.mark = 0
        self._more = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.fd)
        self.text += _ANSI.sub("", data.decode("utf-8", "replace"))
        self._more.set()

    async def expect(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for `pattern` (a regex) after the last match; returns the matching text."""
        async with asyncio.timeout(timeout):
            while True:
                m = re.search(pattern, self.text[self.mark:])
                if m is not None:
                    self.mark += m.end()
                    return m.group(0)
                self._more.clear()
                await self._more.wait()

    def press(self, keys: str) -> None:
        os.write(self.fd, keys.encode())


def test_console_in_a_pty(tmp_path: Path) -> None:
    tone = tmp_path / "tone.wav"
    t = np.arange(16000 * 20) / 16000
    write_wav(tone, (8000 * np.sin(2 * np.pi * 700 * t)).astype(np.int16), 16000)
    port = free_port()
    master, slave = pty.openpty()
    env = {**os.environ, "HOME": str(tmp_path), "TERM": "dumb"}
    proc = subprocess.Popen([sys.executable, "-m", "offhook.cli.main", "--listen", f"127.0.0.1:{port}",
                             "--play", str(tone)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path,
                            start_new_session=True)
    os.close(slave)
    rec = tmp_path / "far.wav"

    async def run() -> None:
        screen = Screen(master)
        far = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)),
                    audio=lambda: ToneAudio(1000))
        await far.start()
        try:
            await screen.expect(f"local: listening on 127.0.0.1:{port}")
            # --- an incoming call, answered with 'a', held with 'o', hung up with 'h'
            call = await far.call(f"sip:console@127.0.0.1:{port}")
            await screen.expect(r"#1 sip:offhook@127\.0\.0\.1:\d+: incoming")
            screen.press("a")
            await screen.expect(r"#1 \S+: active")
            await call.wait_answered(5)
            await asyncio.sleep(1.5)
            await screen.expect(r"#1 sip:offhook\S+ active 0:0\d MOS [34]\.\d")   # the status line
            await call.send_dtmf("7")
            await screen.expect("#1 DTMF 7")
            screen.press("o")
            await screen.expect(r"#1 \S+: held")
            await call.wait(CallState.REMOTE_HELD, timeout=5)
            screen.press("o")
            await screen.expect(r"#1 \S+: active")
            screen.press("h")
            await screen.expect(r"#1 \S+: ended \(hung up\)")
            await call.wait_ended(5)
            assert call.reason == "hung up by the far end"
            # --- dialling with 'd', DTMF from the keys, audio from --play measured at the far end
            far.audio_factory = lambda: WavAudio(record=rec)
            host, far_port = far.lines["local"].agent.transport.local["UDP"]
            screen.press(f"dsip:bob@{host}:{far_port}\r")
            await screen.expect(r"#2 \S+: active", timeout=10)
            out = far.calls[-1]
            await asyncio.sleep(1.0)
            screen.press("5")
            async with asyncio.timeout(5):
                while not isinstance(ev := await far.next_event(), DtmfReceived):
                    pass
            assert ev.digit == "5"
            screen.press("h")
            await screen.expect(r"#2 \S+: ended")
            await out.wait_ended(5)
            screen.press("?")
            await screen.expect("keys: a answer")
            screen.press("q")
            await screen.expect("bye")
        finally:
            await far.stop()

    try:
        asyncio.run(run())
        assert proc.wait(10) == 0
    finally:
        stop(proc)
        os.close(master)
    pcm, rate = recorded(rec)
    assert abs(dominant_hz(pcm[rate // 4:rate], rate) - 700) < 5
    history = subprocess.run([sys.executable, "-m", "offhook.cli.main", "history"], env=env,
                             capture_output=True, text=True, timeout=30)
    lines = history.stdout.splitlines()
    assert history.returncode == 0 and len(lines) == 3, history.stdout + history.stderr
    assert re.search(r" out  answered .* sip:bob@127\.0\.0\.1:\d+$", lines[1])
    assert re.search(r" in   answered .* sip:offhook@127\.0\.0\.1:\d+$", lines[2])
