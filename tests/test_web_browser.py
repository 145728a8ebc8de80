"""The web handset in headless Chromium (Debian `chromium` + `chromium-driver`, driven by
Selenium with the system browser): log-in refusal, a call placed by clicking the dial pad,
ringing and connected on the page, hold and resume, DTMF from the keyboard, hang-up, a blind
transfer to a third phone, and a customer card popped for a caller in a CSV directory.
The audio is checked where it arrives, at the far end (tone frequency), not on the page.
Screenshots are saved under the test's tmp dir (their paths are printed)."""
from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pytest

from offhook.cti import CsvSourceConfig, CtiConfig, CtiService
from offhook.phone import AccountConfig, CallState, Phone, PhoneConfig, PolicyConfig, ToneAudio, WavAudio
from offhook.phone.config import AudioConfig
from phone_helpers import band_share, dominant_hz, recorded, rms_db, uri_of
from web_helpers import CUSTOMERS, WebPhone, web_phone

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

pytest_plugins = ["audio_fixture"]
HEADSET = "Jabra Evolve 40 (USB)"    # audio_fixture's virtual devices
BUILTIN = "Built-in Audio"

T = TypeVar("T")
PA_RATE = 48000
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def tone_file(path: Path, freq: float, seconds: float) -> Path:
    t = np.arange(int(seconds * PA_RATE)) / PA_RATE
    path.write_bytes((8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())
    return path


def pacat(sink: str, raw: Path) -> subprocess.Popen[bytes]:
    """Play raw 48 kHz mono into `sink` (the device's microphone hears it)."""
    return subprocess.Popen(["pacat", "--playback", f"--device={sink}", "--format=s16le",
                             f"--rate={PA_RATE}", "--channels=1", "--raw", "--latency-msec=40", str(raw)])


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)     # by pid: a process this test started
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def capture_level(sink: str, out: Path, seconds: float = 1.5, freq: int | None = None) -> float:
    """dBFS of what `sink` plays (its monitor, recorded with parec for `seconds`), the first
    0.3 s dropped; with `freq`, only that tone's share of it."""
    with open(out, "wb") as f:
        proc = subprocess.Popen(["parec", f"--device={sink}.monitor", "--format=s16le",
                                 f"--rate={PA_RATE}", "--channels=1", "--raw", "--latency-msec=40"],
                                stdout=f)
    time.sleep(seconds)
    stop(proc)
    data = out.read_bytes()
    pcm = np.frombuffer(data[:len(data) // 2 * 2], "<i2")[int(0.3 * PA_RATE):]
    if pcm.size < PA_RATE // 2:
        raise AssertionError(f"parec recorded only {pcm.size} samples from {sink}")
    level = rms_db(pcm)
    if freq is not None:
        level += 10 * np.log10(max(band_share(pcm, PA_RATE, (freq,)), 1e-12))
    return float(level)


class LoopThread:
    """An asyncio loop in a thread: the phones and the server live there while Selenium
    blocks the test's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian chromium and chromium-driver (scripts/setup --test installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,900", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The handset page: the <offhook-phone> element's shadow DOM."""

    def __init__(self, driver: WebDriver, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        shots.mkdir(exist_ok=True)

    @property
    def root(self) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, "offhook-phone").shadow_root

    def q(self, css: str) -> WebElement:
        return self.root.find_element(By.CSS_SELECTOR, css)  # type: ignore[no-any-return]

    def until(self, what: Callable[[], object], message: str, timeout: float = 10.0) -> Any:
        from selenium.common.exceptions import (
            NoSuchElementException,
            NoSuchShadowRootException,
            StaleElementReferenceException,
        )
        ignored = (NoSuchElementException, NoSuchShadowRootException, StaleElementReferenceException)
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=ignored).until(lambda _d: what(), message)

    def display_state(self) -> str:
        return self.q(".display").get_attribute("data-state") or ""

    def wait_state(self, state: str, timeout: float = 10.0) -> None:
        self.until(lambda: self.display_state() == state,
                   f"the display never showed {state!r} (it shows {self.display_state()!r})", timeout)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path


def test_page_refuses_a_missing_or_wrong_token(browser: WebDriver, tmp_path: Path) -> None:
    loop = LoopThread()
    try:
        web: WebPhone
        ctx = web_phone(tmp_path)
        web = loop.run(ctx.__aenter__())
        try:
            page = Page(browser, tmp_path / "screenshots")
            for url in (web.server.url, web.server.url + "?token=not-the-token",
                        web.server.url + "supervisor"):
                browser.get(url)
                assert browser.find_element(By.ID, "refused").text == "This handset needs its token"
                assert not browser.find_elements(By.CSS_SELECTOR, "offhook-phone")
            assert page.shot("refused").stat().st_size > 1000
            browser.get(web.server.url + "?token=" + web.server.token[:-2])
            assert browser.find_elements(By.ID, "refused")
        finally:
            loop.run(ctx.__aexit__(None, None, None))
    finally:
        loop.close()


def test_agent_call_hold_hangup_transfer_and_screen_pop(browser: WebDriver, tmp_path: Path) -> None:
    loop = LoopThread()
    counter = itertools.count()
    far_wavs: list[Path] = []

    def far_audio() -> WavAudio:
        path = tmp_path / f"b-{next(counter)}.wav"
        far_wavs.append(path)
        return WavAudio(record=path)

    csv = tmp_path / "customers.csv"
    csv.write_text(CUSTOMERS, encoding="utf-8")
    contacts = tmp_path / "contacts.csv"

    async def setup() -> tuple[Phone, Phone, Phone, Any, WebPhone]:
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True, auto_answer_after=1.5)), audio=far_audio)
        c = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True, auto_answer_after=0.5)),
                  audio=lambda: WavAudio(record=tmp_path / "c.wav"))
        d = Phone(PhoneConfig(accounts=(AccountConfig(user="+442079460018", listen=("127.0.0.1", 0)),)),
                  audio=lambda: ToneAudio(1200))
        for p in (b, c, d):
            await p.start()
        contacts.write_text(f"name,phone\nBob Far,{uri_of(b)}\nCarol Transfer,{uri_of(c)}\n")
        cti = CtiService.from_config(CtiConfig(default_country="GB", directory=(CsvSourceConfig(csv),)))
        ctx = web_phone(tmp_path, audio=lambda: ToneAudio(700), cti=cti, contacts=contacts,
                        speed_dial={"201": uri_of(b), "202": uri_of(c)})
        web = await ctx.__aenter__()
        return b, c, d, ctx, web

    b, c, d, ctx, web = loop.run(setup())
    try:
        page = Page(browser, tmp_path / "screenshots")
        browser.get(web.server.login_url)
        page.until(lambda: page.q(".conn").get_attribute("data-conn") == "connected", "never connected")
        assert "token" not in browser.current_url                       # taken out of the address bar
        page.until(lambda: "Bob Far" in (page.q(".contacts").get_attribute("textContent") or ""),
                   "the contacts never showed")

        # --- dial 201 (speed dial to B) with the mouse on the dial pad; B answers after 1.5 s
        for key in "201":
            page.q(f'.pad [data-key="{key}"]').click()
        assert page.q(".number").get_attribute("value") == "201"
        page.q('[data-action="call"]').click()
        page.wait_state("ringing", 5)
        assert page.q(".callstate").text == "Ringing…"
        page.shot("1-ringing")
        page.wait_state("active", 10)
        assert page.q(".callstate").text == "Connected"
        page.until(lambda: int(page.q(".bars").get_attribute("data-bars") or 0) >= 4,
                   "no live MOS bars for a clean loopback call", 5)
        assert float(page.q(".bars").get_attribute("data-mos") or 0) > 4.0
        page.shot("2-connected")
        far_call = b.calls[-1]
        assert far_call.state is CallState.ACTIVE

        # --- keyboard: a digit during a call is DTMF, heard at the far end
        browser.find_element(By.TAG_NAME, "body").send_keys("5")
        page.until(lambda: far_call.dtmf_received == "5", "the far end never got the DTMF 5", 5)

        # --- hold and resume with the soft key
        page.q('.softkeys [data-action="hold"]').click()
        page.wait_state("held", 5)
        page.until(lambda: far_call.state is CallState.REMOTE_HELD, "the far end was not held", 5)
        assert page.q('li.call[data-state="held"]').is_displayed()
        page.shot("3-held")
        page.q('.softkeys [data-action="hold"]').click()                  # now labelled Resume
        page.wait_state("active", 5)
        page.until(lambda: far_call.state is CallState.ACTIVE, "the far end was not resumed", 5)

        # --- hang up with the red key
        page.q('[data-action="hangup"]').click()
        page.wait_state("idle", 5)
        page.until(lambda: far_call.state is CallState.ENDED, "the far end never saw the hang-up", 5)
        page.q('[data-tab="history"]').click()
        page.until(lambda: page.q('li.entry[data-result="answered"]').is_displayed(), "no history entry")
        page.shot("4-history")
        page.q('[data-tab="calls"]').click()

        # --- second call typed on the keyboard, then a blind transfer to C (speed dial 202)
        browser.find_element(By.TAG_NAME, "body").send_keys("201\n")
        page.wait_state("active", 10)
        second = b.calls[-1]
        page.q('.softkeys [data-action="transfer"]').click()
        page.until(lambda: page.q(".transfer").is_displayed(), "the transfer panel never opened")
        page.q(".transfer-target").send_keys("202")
        page.shot("5-transfer")
        page.q(".transfer .blind").click()
        page.until(lambda: c.calls and c.calls[-1].state is CallState.ACTIVE, "C never answered B", 10)
        assert c.calls[-1].remote_uri == uri_of(b)                       # B was handed over to C
        page.wait_state("idle", 10)
        assert page.q(f'li.call[data-call-id="{web.phone.calls[-1].id}"]').get_attribute("data-state") \
            in ("transferred", "ended")
        page.until(lambda: second.state is CallState.ENDED or b.calls[-1] is not second,
                   "B's call with the agent did not end", 10)
        loop.run(c.calls[-1].hangup())

        # --- an incoming call from a customer in the CSV directory: the card pops before answering
        caller = loop.run(d.call(uri_of(web.phone)))
        page.wait_state("incoming", 5)
        page.until(lambda: page.q(".card").get_attribute("data-lookup") == "found", "no customer card", 5)
        card = page.q(".card")
        assert "Ada Lovelace" in card.text and "Analytical Engines Ltd" in card.text and "A-1815" in card.text
        assert page.q(".party").text == "Ada Lovelace"
        assert web.phone.calls[-1].state is CallState.INCOMING           # not answered yet
        page.shot("6-screen-pop")
        page.q('[data-action="call"]').click()                           # the green key answers
        page.wait_state("active", 5)
        loop.run(caller.wait_answered(5))
        page.shot("7-answered-customer")
        page.q('[data-action="hangup"]').click()
        page.wait_state("idle", 5)
        loop.run(caller.wait_ended(5))
    finally:
        async def teardown() -> None:
            await ctx.__aexit__(None, None, None)
            for p in (b, c, d):
                await p.stop()
        loop.run(teardown())
        loop.close()

    # what B heard from the handset's phone in the first call: its 700 Hz tone, before the hold
    pcm, rate = recorded(far_wavs[0])
    talk = pcm[int(0.2 * rate):int(1.0 * rate)]
    assert abs(dominant_hz(talk, rate) - 700) < 5 and rms_db(talk) > -30


def test_web_component_and_iframe_embedded_in_another_site(browser: WebDriver, tmp_path: Path) -> None:
    """Another web application (its own origin, allowed with allowed_origins) embeds the
    handset as <offhook-phone> and as an iframe; it drives a call through the element's
    JavaScript API and hears about it through its DOM events."""
    from aiohttp import web as aioweb

    loop = LoopThread()

    async def setup() -> tuple[Phone, Any, WebPhone, aioweb.AppRunner, str]:
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=lambda: ToneAudio(500))
        await b.start()
        ctx = web_phone(tmp_path, speed_dial={"201": uri_of(b)})
        web = await ctx.__aenter__()
        host_app = aioweb.Application()
        runner = aioweb.AppRunner(host_app)
        page_html: list[str] = []

        async def index(request: aioweb.Request) -> aioweb.Response:
            return aioweb.Response(text=page_html[0], content_type="text/html")
        host_app.router.add_get("/", index)
        await runner.setup()
        site = aioweb.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        origin = f"http://127.0.0.1:{port}"
        web.server.allowed_origins = frozenset({origin})
        h, t = web.origin, web.server.token
        page_html.append(f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>CRM</title>
<script type="module" src="{h}/static/offhook-phone.js"></script></head><body><h1>Example CRM</h1>
<offhook-phone id="good" compact server="{h}" token="{t}"></offhook-phone>
<offhook-phone id="bad" compact server="{h}" token="wrong-token-wrong-token"></offhook-phone>
<iframe id="frame" width="300" height="420" src="{h}/?embed=1&amp;token={t}"></iframe></body></html>""")
        return b, ctx, web, runner, origin

    b, ctx, web, runner, origin = loop.run(setup())
    try:
        page = Page(browser, tmp_path / "screenshots")
        browser.get(origin + "/")

        def conn(ident: str) -> str:
            host = browser.find_element(By.ID, ident)
            return host.shadow_root.find_element(By.CSS_SELECTOR, ".conn").get_attribute("data-conn") or ""

        page.until(lambda: conn("good") == "connected", "the embedded element never connected")
        page.until(lambda: conn("bad") == "refused", "a wrong token was not refused")
        browser.execute_script("""
            const el = document.getElementById('good');
            window.seen = [];
            el.addEventListener('offhook-call', (e) => window.seen.push(e.detail.state));
            window.dialled = null;
            el.dial('201').then((r) => { window.dialled = r.call; });""")
        page.until(lambda: "active" in browser.execute_script("return window.seen"),
                   "no offhook-call event: active")
        call_id = browser.execute_script("return window.dialled")
        assert call_id == web.phone.calls[-1].id and b.calls[-1].state is CallState.ACTIVE
        browser.switch_to.frame(browser.find_element(By.ID, "frame"))      # the iframe sees the same call
        assert "embed" in (browser.find_element(By.TAG_NAME, "body").get_attribute("class") or "")
        frame = Page(browser, tmp_path / "screenshots")
        frame.wait_state("active", 5)
        browser.switch_to.default_content()
        page.shot("8-embedded")
        browser.execute_script("document.getElementById('good').hangup()")
        page.until(lambda: b.calls[-1].state is CallState.ENDED,
                   "the element's hangup() did not end the call")
        assert "ended" in browser.execute_script("return window.seen")
    finally:
        async def teardown() -> None:
            await runner.cleanup()
            await ctx.__aexit__(None, None, None)
            await b.stop()
        loop.run(teardown())
        loop.close()


def test_supervisor_view_without_and_with_a_campaign_store(browser: WebDriver, tmp_path: Path) -> None:
    import time

    from offhook.dialer.campaign import Outcome
    from offhook.dialer.store import AttemptResult, CampaignStore

    db = tmp_path / "campaign.sqlite"
    loop = LoopThread()
    page = Page(browser, tmp_path / "screenshots")
    try:
        ctx = web_phone(tmp_path)
        web = loop.run(ctx.__aenter__())
        try:
            browser.get(web.server.login_url)
            browser.get(web.server.url + "supervisor")
            notice = browser.find_element(By.ID, "notice")
            page.until(lambda: notice.is_displayed(), "the supervisor view said nothing without a store")
            assert notice.text.startswith("no campaign store is configured")
        finally:
            loop.run(ctx.__aexit__(None, None, None))
        now = time.time()
        with CampaignStore(db) as store:
            for i, outcome in enumerate([Outcome.ANSWERED_HUMAN] * 3 + [Outcome.BUSY, Outcome.ABANDONED]):
                live = outcome in (Outcome.ANSWERED_HUMAN, Outcome.ABANDONED)
                store.record_inbound(f"+44207946001{i}", AttemptResult(
                    outcome, ended=now - 50, answered=now - 100 if live else None,
                    connected=now - 95 if outcome is Outcome.ANSWERED_HUMAN else None, agent="ada",
                    wait=2.0 if live else None, talk=45.0 if outcome is Outcome.ANSWERED_HUMAN else None,
                    mos=4.3), started=now - 110)
        ctx = web_phone(tmp_path, campaign_db=db)
        web = loop.run(ctx.__aenter__())
        try:
            browser.get(web.server.login_url)
            browser.get(web.server.url + "supervisor")
            page.until(lambda: browser.find_elements(By.CSS_SELECTOR, '[data-tile="calls"] .value'),
                       "no statistics in the supervisor view")
            assert browser.find_element(By.CSS_SELECTOR, '[data-tile="calls"] .value').text == "5"
            assert browser.find_element(By.CSS_SELECTOR, '[data-tile="abandon rate"]').get_attribute(
                "class") == "tile over"                                    # 1 of 4 live > 3 %
            assert browser.find_elements(By.CSS_SELECTOR, "#fig-outcome-mix svg rect.bar")
            page.shot("9-supervisor")
        finally:
            loop.run(ctx.__aexit__(None, None, None))
    finally:
        loop.close()


# --- sound: the page's volume and device choices act on the phone's devices ---------------------

def _select(page: Page, css: str, name: str) -> None:
    from selenium.webdriver.support.ui import Select
    page.until(lambda: any(o.get_attribute("value") == name for o in page.q(css).find_elements(
        By.TAG_NAME, "option")), f"{name!r} never appeared in {css}")
    Select(page.q(css)).select_by_value(name)


def _slide(browser: WebDriver, page: Page, css: str, value: int) -> None:
    """What letting go of a range slider at `value` does: the value, then a change event."""
    browser.execute_script("arguments[0].value = arguments[1];"
                           "arguments[0].dispatchEvent(new Event('change'));", page.q(css), str(value))


@pytest.mark.audio
def test_volume_and_devices_chosen_in_the_page_act_on_the_call(
        browser: WebDriver, virtual_audio: VirtualAudio, tmp_path: Path) -> None:
    """A call on the virtual headset whose far end plays 1 kHz.  Moving the page's volume
    slider from 80 % to 40 % lowers what the headset's speaker plays by 12 dB (measured at
    its sink's monitor); choosing the built-in card as speaker in the page moves the call's
    sound there mid-call (the headset goes quiet); the microphone and the ringer follow
    the page's choice too, and the far end hears the new microphone."""
    from offhook.web import new_token
    from offhook.web.handset import Handset, device_lister, volume_db
    from offhook.web.server import WebServer

    headset, builtin = virtual_audio.devices[HEADSET], virtual_audio.devices[BUILTIN]
    loop = LoopThread()
    mic_tone = pacat(builtin.sink, tone_file(tmp_path / "700.raw", 700, 40))

    async def setup() -> tuple[Phone, Phone, WebServer]:
        a = Phone(PhoneConfig(audio=AudioConfig(capture=HEADSET, playback=HEADSET, ringer=HEADSET,
                                                echo_canceller=False)))
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=lambda: ToneAudio(1000))
        await a.start()
        await b.start()
        server = WebServer(Handset(a, list_devices=device_lister()), token=new_token(),
                           listen=("127.0.0.1", 0))
        await server.start()
        return a, b, server

    a, b, server = loop.run(setup())
    try:
        page = Page(browser, tmp_path / "screenshots")
        browser.get(server.login_url)
        page.until(lambda: page.q(".conn").get_attribute("data-conn") == "connected", "never connected")
        page.q(".number").send_keys(uri_of(b))
        page.q('[data-action="call"]').click()
        page.wait_state("active", 10)
        page.q(".audio summary").click()
        time.sleep(2.5)                                  # an idle null sink wakes within ~2 s
        loud = capture_level(headset.sink, tmp_path / "80.raw")
        assert loud > -30, f"the far end's tone is not on the headset ({loud:.1f} dBFS)"

        _slide(browser, page, ".volume", 40)
        page.until(lambda: a.volume[0] == pytest.approx(volume_db(40)), "the volume never reached the phone")
        quiet = capture_level(headset.sink, tmp_path / "40.raw")
        print(f"headset speaker at 80 %: {loud:.2f} dBFS, at 40 %: {quiet:.2f} dBFS "
              f"(expected {volume_db(40):.2f} dB)")
        assert quiet - loud == pytest.approx(volume_db(40), abs=1.0)
        page.shot("10-volume")

        _select(page, ".playback", BUILTIN)
        page.until(lambda: a.devices is not None and a.devices.playback_device == BUILTIN,
                   "the phone's speaker never moved to the built-in card", 10)
        _select(page, ".capture", BUILTIN)
        page.until(lambda: a.devices is not None and a.devices.capture_device == BUILTIN,
                   "the phone's microphone never moved to the built-in card", 10)
        _select(page, ".ringer", BUILTIN)
        page.until(lambda: getattr(a.local_audio, "device", None) == BUILTIN, "the ringer did not move")
        time.sleep(2.5)
        moved = capture_level(builtin.sink, tmp_path / "builtin.raw", freq=1000)
        gone = capture_level(headset.sink, tmp_path / "headset-after.raw")
        print(f"after the switch: built-in {moved:.2f} dBFS of 1 kHz, headset {gone:.2f} dBFS")
        assert moved == pytest.approx(quiet, abs=2.0)   # the call, at the volume chosen
        assert gone < -60                               # and nothing left on the headset
        assert a.calls[-1].state is CallState.ACTIVE   # the call went on through it all
        far = b.calls[-1]
        loop.run(far.record(tmp_path / "far.wav"))
        time.sleep(1.5)
        loop.run(far.stop_recording())
        heard, rate = recorded(tmp_path / "far.wav")
        share = band_share(heard[rate // 4:], rate, (700,))
        print(f"the far end hears the built-in microphone's 700 Hz: share {share:.2f}")
        assert share > 0.3
        assert page.q(".playback").get_attribute("value") == BUILTIN
        page.shot("11-devices")
    finally:
        async def teardown() -> None:
            await server.stop()
            await a.stop()
            await b.stop()
        loop.run(teardown())
        loop.close()
        stop(mic_tone)
