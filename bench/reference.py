"""The speed target's yardstick: the rate of merely decoding a clip and encoding it once."""

from __future__ import annotations

import time
from pathlib import Path

import av


def transcode_baseline(src: str | Path, dst: str | Path, crf: int = 20) -> float:
    """Decode ``src`` and encode it once to H.264 veryfast with a plain PyAV loop; frames per second.

    This is the yardstick of the speed target: the whole pipeline should reach at least half of it.
    """
    started = time.perf_counter()
    count = 0
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ctx = vin.codec_context
        vout = out.add_stream("libx264", rate=vin.average_rate or 25)
        vout.width, vout.height, vout.pix_fmt = ctx.width & ~1, ctx.height & ~1, "yuv420p"
        vout.time_base = vout.codec_context.time_base = vin.time_base
        vout.options = {"preset": "veryfast", "crf": str(crf)}
        for frame in inp.decode(vin):
            for packet in vout.encode(frame):  # PyAV converts to the encoder's size/format if needed
                out.mux(packet)
            count += 1
        for packet in vout.encode(None):
            out.mux(packet)
    return count / (time.perf_counter() - started)
