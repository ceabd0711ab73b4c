"""Border-geodesic saliency: how hard it is to reach each pixel from the frame's edges.

Why: the background of a shot usually reaches the frame's edges, and going from there into the
subject means crossing the subject's outline. So the cheapest path from the edges to a pixel,
where a step costs the colour difference it crosses, is long for pixels of a subject (its
whole, however many colours it has: skin, shirt, hair) and short for the background (grass,
pavement, sky: smooth stretches cost almost nothing). This is the geodesic saliency idea (Wei
et al., ECCV 2012), computed with scipy's Dijkstra on a small copy of the frame.

The bottom edge is left out of the sources by default: subjects (a person filmed to the waist)
are often cut by it, rarely by the top or the sides.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from core.compositing import long_side_size

logger = logging.getLogger(__name__)

SALIENCY_SIDE = 160  # long side of the copy the paths are computed on (~20k nodes: ~20 ms)
NOISE_FLOOR = 4.0  # colour steps below this (Lab units) are texture/noise and cost nearly nothing
STEP_COST = 0.05  # a small cost per step, so that long detours are not free


def geodesic_from_border(image: np.ndarray, sides: tuple[str, ...] = ("top", "left", "right")) -> np.ndarray:
    """Path cost (float32, same size as ``image``) from the given frame sides to every pixel."""
    # imported here: scipy.sparse takes ~0.15 s to import, which a job prompted by a mask never needs
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    h, w = image.shape[:2]
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    lab = cv2.GaussianBlur(lab, (3, 3), 0)
    idx = np.arange(h * w).reshape(h, w)
    src, dst, cost = [], [], []
    for a, b, da, db in ((idx[:, :-1], idx[:, 1:], lab[:, :-1], lab[:, 1:]),
                         (idx[:-1, :], idx[1:, :], lab[:-1, :], lab[1:, :])):
        step = np.linalg.norm(da - db, axis=-1)
        c = np.maximum(step - NOISE_FLOOR, 0.0) + STEP_COST
        src += [a.ravel(), b.ravel()]
        dst += [b.ravel(), a.ravel()]
        cost += [c.ravel(), c.ravel()]
    border = np.zeros((h, w), bool)
    if "top" in sides:
        border[0] = True
    if "bottom" in sides:
        border[-1] = True
    if "left" in sides:
        border[:, 0] = True
    if "right" in sides:
        border[:, -1] = True
    source = h * w  # one virtual node joined to every border pixel (a tiny cost: 0 means no edge)
    b_idx = idx[border]
    src.append(np.full(b_idx.size, source))
    dst.append(b_idx)
    cost.append(np.full(b_idx.size, 1e-6))
    graph = coo_matrix((np.concatenate(cost), (np.concatenate(src), np.concatenate(dst))),
                       shape=(h * w + 1, h * w + 1)).tocsr()
    dist = dijkstra(graph, directed=True, indices=source)
    return dist[:-1].reshape(h, w).astype(np.float32)


def saliency(frame: np.ndarray, side: int = SALIENCY_SIDE) -> np.ndarray:
    """Border-geodesic saliency of ``frame`` at a small size (float32 in [0, 1], long side ``side``)."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, long_side_size(w, h, side, 8), interpolation=cv2.INTER_AREA)
    dist = geodesic_from_border(small)
    top = float(np.percentile(dist, 99.5))
    return np.clip(dist / max(top, 1e-6), 0.0, 1.0)
