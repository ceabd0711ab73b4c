"""HDR frames (PQ or HLG, BT.2020) to the SDR RGB (BT.709, 8 bits) that the whole pipeline works in.

Why: phones record HDR by default on many models. Read as if it were SDR, a PQ clip comes out dim
and flat and an HLG one pale, and the composite shows it. The conversion follows the usual
HDR-to-SDR practice (ITU-R BT.2408, BT.2390), kept simple enough to run on every frame:

1. Y'CbCr to non-linear R'G'B' with the frame's own BT.2020 matrix, 16 bits a channel (swscale);
2. the transfer undone, to display light relative to HDR reference white (203 cd/m2), which becomes
   SDR white: PQ's EOTF; HLG's inverse OETF and its system gamma for a 1000 cd/m2 display (1.2,
   applied per channel: the hue of very saturated highlights shifts a little). One table of 65 536;
3. BT.2020 primaries to BT.709 (a 3x3 matrix in linear light; out-of-gamut colours clip);
4. brighter than ``KNEE`` of SDR white, highlights roll off smoothly towards white (per channel), and
   the SDR display's gamma (BT.1886, 2.4) is undone: one more table, to 8 bits.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

PQ, HLG = 16, 18  # FFmpeg's transfer characteristics (AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67)
REFERENCE_WHITE = 203.0  # cd/m2: HDR's graphics white, mapped to SDR white (BT.2408)
HLG_PEAK = 1000.0  # cd/m2: the display HLG's system gamma is set for
KNEE = 0.8  # x SDR white: above this, highlights are compressed
TOP = 8.0  # x SDR white: the brightest value the output table tells apart (about 1600 cd/m2)
# BT.2020 to BT.709 primaries, linear light (ITU-R BT.2087)
BT2020_TO_BT709 = np.float32([[1.6605, -0.5876, -0.0728],
                              [-0.1246, 1.1329, -0.0083],
                              [-0.0182, -0.1006, 1.1187]])


def pq_to_nits(v: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: signal in [0, 1] -> cd/m2."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(v, 0.0, 1.0), 1.0 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0.0) / (c2 - c3 * p), 1.0 / m1)


def hlg_to_nits(v: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 inverse OETF, then the system gamma 1.2 of a 1000 cd/m2 display (per channel)."""
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    v = np.clip(v, 0.0, 1.0)
    scene = np.where(v <= 0.5, v * v / 3.0, (np.exp((v - c) / a) + b) / 12.0)
    return HLG_PEAK * np.power(scene, 1.2)


@lru_cache(maxsize=2)
def _to_linear_table(transfer: int) -> np.ndarray:
    """16-bit signal -> display light relative to SDR white (float32, 65 536 entries)."""
    v = np.arange(65536, dtype=np.float64) / 65535.0
    nits = pq_to_nits(v) if transfer == PQ else hlg_to_nits(v)
    return (nits / REFERENCE_WHITE).astype(np.float32)


@lru_cache(maxsize=1)
def _to_sdr_table() -> np.ndarray:
    """Linear light relative to SDR white, quantised over [0, TOP] in 65 536 steps -> 8-bit SDR."""
    x = np.arange(65536, dtype=np.float64) * (TOP / 65535.0)
    span = 1.0 - KNEE
    rolled = np.where(x <= KNEE, x, KNEE + span * (1.0 - np.exp(-(x - KNEE) / span)))
    return np.round(255.0 * np.power(rolled, 1.0 / 2.4)).astype(np.uint8)


def hdr_to_sdr(frame: av.VideoFrame, src_range: int | None) -> np.ndarray:
    """(H, W, 3) uint8 SDR RGB of an HDR ``frame`` (``frame.color_trc`` PQ or HLG; ``src_range`` as
    for ``video_reader.to_rgb``). About 30 ms a 1080p frame on one core (a plain SDR frame: 2 ms):
    passes over 6 million values, each cheap (OpenCV's remap as the look-up was tried: twice as
    slow on one thread)."""
    signal = frame.to_ndarray(format="rgb48le", src_color_range=src_range)
    linear = np.take(_to_linear_table(int(frame.color_trc)), signal)
    rec709 = cv2.transform(linear, BT2020_TO_BT709)
    index = np.clip(rec709 * np.float32(65535.0 / TOP), 0.0, 65535.0).astype(np.uint16)
    return np.take(_to_sdr_table(), index)
