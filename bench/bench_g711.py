"""G.711 encode+decode: offhook vs audioop (the ITU-T G.191 reference), same input, one run.

Targets (foundation issue): >= 3x on 1 s buffers, >= 2x on 20 ms frames (call overhead counts).
"""
from __future__ import annotations

import numpy as np

try:
    import audioop
except ImportError:  # Python 3.13+
    import audioop_lts as audioop  # type: ignore[no-redef]

from harness import print_table, race, write_json
from offhook.engine import codec
from offhook.media.speech import speech

LAWS = {"PCMU": (audioop.lin2ulaw, audioop.ulaw2lin), "PCMA": (audioop.lin2alaw, audioop.alaw2lin)}


def main() -> None:
    signal = speech(1.0, 8000)
    rows = []
    for name, (lin2law, law2lin) in LAWS.items():
        c = codec(name)
        for label, n in (("1 s buffer", 8000), ("20 ms frame", 160)):
            pcm = np.ascontiguousarray(signal[:n])
            raw = pcm.tobytes()
            payload = c.encode(pcm)
            times = race({"offhook": lambda: c.decode(c.encode(pcm)),
                          "audioop": lambda: law2lin(lin2law(raw, 2), 2)})
            ours, anchor = times["offhook"], times["audioop"]
            if payload != lin2law(raw, 2):
                raise SystemExit(f"{name}: offhook and audioop disagree; the comparison is void")
            rows.append({"codec": name, "size": label, "offhook_us": ours * 1e6,
                         "audioop_us": anchor * 1e6, "speedup": anchor / ours})
    print_table("G.711 encode+decode, offhook vs audioop",
                ["codec", "size", "offhook µs", "audioop µs", "speed-up ×"],
                [[r["codec"], r["size"], r["offhook_us"], r["audioop_us"], r["speedup"]]
                 for r in rows])
    write_json("g711", rows)


if __name__ == "__main__":
    main()
