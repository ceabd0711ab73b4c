"""HDR clips (PQ, HLG) are tone mapped to the SDR RGB the pipeline works in (core/hdr.py)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from core.hdr import HLG, PQ, _to_linear_table, _to_sdr_table, hlg_to_nits, pq_to_nits
from core.video_io import probe
from core.video_reader import VideoReader

PQ_203_NITS = 0.5807  # the PQ signal of HDR reference white (BT.2408)


def test_transfer_curves_meet_their_anchors():
    assert pq_to_nits(np.array([0.0, PQ_203_NITS, 1.0])) == pytest.approx([0.0, 203.0, 10000.0], rel=0.01)
    assert hlg_to_nits(np.array([0.0, 0.75, 1.0])) == pytest.approx([0.0, 203.0, 1000.0], rel=0.02)
    for transfer in (PQ, HLG):
        table = _to_linear_table(transfer)
        assert table[0] == 0.0 and np.all(np.diff(table) >= 0)  # black stays black, order is kept
    sdr = _to_sdr_table()
    assert sdr[0] == 0 and sdr[-1] == 255 and np.all(np.diff(sdr.astype(int)) >= 0)


def _grey_clip(path, signal: float, transfer: int | None) -> None:
    """A 10-bit H.264 clip of one flat grey at ``signal`` (0..1 of full scale), tagged ``transfer``.
    Grey is the same in every Y'CbCr matrix, so only the transfer decides how it reads."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p10le"
        if transfer is not None:
            ctx = stream.codec_context
            ctx.color_trc, ctx.color_primaries, ctx.colorspace = transfer, 9, 9  # BT.2020
        grey = np.full((48, 64, 3), round(signal * 65535), np.uint16)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(grey, format="rgb48le")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize("transfer, signal, hdr", [(PQ, PQ_203_NITS, "PQ"), (HLG, 0.75, "HLG")])
def test_hdr_reference_white_reads_as_sdr_white(tmp_path, transfer, signal, hdr):
    tagged, plain = tmp_path / "hdr.mp4", tmp_path / "sdr.mp4"
    _grey_clip(tagged, signal, transfer)
    _grey_clip(plain, signal, None)
    assert probe(tagged).hdr == hdr and probe(plain).hdr is None
    with VideoReader(tagged) as r:
        mapped = next(iter(r.frames())).rgb
    with VideoReader(plain) as r:
        as_sdr = next(iter(r.frames())).rgb
    assert 240 <= mapped.mean() <= 252  # reference white just under SDR white: highlights above it
    assert as_sdr.mean() < 200  # read as if SDR it was grey (PQ: about 148, HLG: 191)
    assert np.ptp(mapped.reshape(-1, 3).mean(axis=0)) < 2  # still grey
