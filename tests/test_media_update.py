"""MediaStream.update while audio flows: a codec switch mid-call, and hold by direction.

The switch PCMU -> G.722 is proven by a 5 kHz tone, which PCMU (8 kHz) cannot
carry and G.722 (16 kHz) can: the recording is silent before the switch and
holds the tone after it. Hold is checked by packet counts and by the level of
what the held side records. Only loopback.
"""
from __future__ import annotations

import socket
import time

import numpy as np

import offhook.engine as eng
from offhook.media.wav import read_wav
from tone_measure import tone_share

LOOP = "127.0.0.1"
RATE = 16000



def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def pair(a: eng.MediaEngine, b: eng.MediaEngine, codec: str) -> tuple[eng.MediaStream, eng.MediaStream]:
    sa = a.add_stream(codec=codec, rtcp_interval_ms=200)
    sb = b.add_stream(codec=codec, remote=(LOOP, sa.local_port), rtcp_interval_ms=200)
    sa.update(remote=(LOOP, sb.local_port))
    return sa, sb


def test_codec_switch_pcmu_to_g722_while_audio_flows(tmp_path):
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(RATE, 20) as b:
        sa, sb = pair(a, b, "PCMU")
        sb.record_wav(tmp_path / "b.wav")
        sa.play_tone(5000, -10)
        time.sleep(0.8)
        at_switch = sb.stats()["recorded_frames"]
        before = sb.stats()
        sa.update(codec="G722")
        sb.update(codec="G722")
        assert (sa.codec, sa.payload_type, sb.codec, sb.payload_type) == ("G722", 9, "G722", 9)
        time.sleep(0.8)
        after = sb.stats()
        sb.stop_recording()
        rec = read_wav(tmp_path / "b.wav", sample_rate=RATE, channels=1).samples
    pcmu_part = rec[RATE // 4:at_switch]
    g722_part = rec[at_switch + RATE // 4:]
    print(f"5 kHz: {rms(pcmu_part):.0f} rms over PCMU, {rms(g722_part):.0f} rms "
          f"(share {tone_share(g722_part, 5000, RATE):.3f}) over G.722; "
          f"dropped PT {after['dropped_payload_type']}")
    assert rms(pcmu_part) < 200  # PCMU cannot carry 5 kHz
    assert rms(g722_part) > 3000 and tone_share(g722_part, 5000, RATE) > 0.9  # G.722 carries it cleanly
    assert after["packets_received"] >= before["packets_received"] + 30
    # only the packets in flight between the two updates had the other payload type
    assert after["dropped_payload_type"] <= 5
    assert after["remote_ssrc"] == before["remote_ssrc"] and after["lost"] == 0


def test_codec_switches_back_and_forth_never_break_the_stream():
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(RATE, 20) as b:
        sa, sb = pair(a, b, "PCMU")
        sa.play_tone(1000)
        sb.play_tone(700)
        for i in range(12):
            name = ("G722", "opus", "PCMA", "PCMU")[i % 4]
            sa.update(codec=name)
            sb.update(codec=name)
            time.sleep(0.05)
        got = sb.stats()["packets_received"]
        time.sleep(0.4)
        st_a, st_b = sa.stats(), sb.stats()
        assert st_b["packets_received"] >= got + 15 and st_a["packets_received"] >= 15
        assert st_a["send_errors"] == 0 and st_b["send_errors"] == 0
        assert st_b["dropped_invalid"] == 0


def test_hold_inactive_sends_nothing_and_sendonly_plays_nothing(tmp_path):
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(RATE, 20) as b:
        sa, sb = pair(a, b, "G722")
        sa.play_tone(1000)
        sb.play_tone(2000)
        sa.record_wav(tmp_path / "a.wav")
        time.sleep(0.5)
        marks = [sa.stats()["recorded_frames"]]

        sa.update(direction="inactive")
        time.sleep(0.1)  # packets in flight land
        st0 = sa.stats()
        time.sleep(0.6)
        st1 = sa.stats()
        assert st1["packets_sent"] == st0["packets_sent"]  # nothing sent on inactive
        assert st1["packets_received"] == st0["packets_received"]
        assert st1["dropped_inactive"] >= st0["dropped_inactive"] + 20  # B still sends
        assert st1["rtcp"]["sent"] > st0["rtcp"]["sent"]  # RTCP keeps the session alive

        sa.update(direction="sendonly")
        marks.append(sa.stats()["recorded_frames"])
        st2 = sa.stats()
        time.sleep(0.6)
        st3 = sa.stats()
        marks.append(st3["recorded_frames"])
        assert st3["packets_sent"] >= st2["packets_sent"] + 20  # sendonly sends
        assert st3["packets_received"] == st2["packets_received"]  # and plays nothing received
        assert st3["playout"]["received"] == st2["playout"]["received"]
        assert st3["dropped_inactive"] >= st2["dropped_inactive"] + 20

        sa.update(direction="sendrecv")
        time.sleep(0.6)
        marks.append(sa.stats()["recorded_frames"])
        sa.stop_recording()
        rec = read_wav(tmp_path / "a.wav", sample_rate=RATE, channels=1).samples
    talking, sendonly, resumed = (rec[RATE // 5:marks[0]], rec[marks[1]:marks[2]],
                                  rec[marks[2] + RATE // 5:marks[3]])
    assert rms(talking) > 3000 and tone_share(talking, 2000, RATE) > 0.9
    assert rms(sendonly) == 0.0  # silence, not B's tone
    assert rms(resumed) > 3000 and tone_share(resumed, 2000, RATE) > 0.9


def test_echo_sends_back_what_it_receives(tmp_path):
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(8000, 20) as b:
        sa, sb = pair(a, b, "G722")
        sb.play_echo()
        sa.play_tone(1000, -10)
        sa.record_wav(tmp_path / "a.wav")
        time.sleep(0.8)
        sa.stop_recording()
        st_b = sb.stats()
        rec = read_wav(tmp_path / "a.wav", sample_rate=RATE, channels=1).samples
    tail = rec[RATE // 3:]
    assert rms(tail) > 3000 and tone_share(tail, 1000, RATE) > 0.9  # the tone came back
    assert st_b["packets_sent"] >= 30 and st_b["packets_received"] >= 30


def test_three_party_conference_is_mix_minus(tmp_path):
    """Three phones call a conference engine; each hears the other two tones, never its own."""
    freqs = (600, 1000, 1500)
    with eng.MediaEngine(RATE, 20) as conf, eng.MediaEngine(RATE, 20) as phones:
        members, handsets = [], []
        for i, f in enumerate(freqs):
            m, h = pair(conf, phones, "G722")
            m.join_conference()
            h.play_tone(f, -16)
            h.record_wav(tmp_path / f"h{i}.wav")
            members.append(m)
            handsets.append(h)
        time.sleep(1.2)
        for h in handsets:
            h.stop_recording()
        members[0].leave_conference()
        members[0].leave_conference()  # twice is fine
        got = [read_wav(tmp_path / f"h{i}.wav", sample_rate=RATE, channels=1).samples[RATE // 2:]
               for i in range(3)]
    for i, rec in enumerate(got):
        shares = {f: tone_share(rec, f, RATE) for f in freqs}
        print(f"phone {i} ({freqs[i]} Hz) hears {', '.join(f'{f} Hz {s:.3f}' for f, s in shares.items())}")
        for f in freqs:
            if f == freqs[i]:
                assert shares[f] < 0.001, f"phone {i} hears itself"
            else:
                assert shares[f] > 0.35, f"phone {i} does not hear {f} Hz"


def test_conference_output_names_its_contributing_sources():
    """RFC 3550 6.1: a mixer's packets list the SSRCs mixed into them (CSRC): the packets a
    third member receives carry the two phones' SSRCs, and after leaving, none."""
    with eng.MediaEngine(RATE, 20) as conf, eng.MediaEngine(RATE, 20) as phones, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((LOOP, 0))
        listener.settimeout(2.0)
        members = []
        for f in (600, 1000):
            m, h = pair(conf, phones, "PCMU")
            m.join_conference()
            h.play_tone(f, -16)
            members.append((m, h))
        third = conf.add_stream(codec="PCMU", remote=listener.getsockname())
        third.join_conference()
        time.sleep(0.6)
        phone_ssrcs = {h.stats()["local_ssrc"] for _, h in members}
        seen = [eng.parse_rtp(listener.recv(2048)).csrc for _ in range(20)]
        third.leave_conference()
        # Packets queued before leaving still carry CSRCs; within 25 (0.5 s) they must stop.
        after = [eng.parse_rtp(listener.recv(2048)).csrc for _ in range(25)]
    assert set(seen[-1]) == phone_ssrcs and len(seen[-1]) == 2
    assert all(c == () for c in after[-10:]), after
