"""The subject's palette: its few main colours, for edge pixels the interior colours do not explain.

Why: the edge solve (models/embedded/edges.py) needs the subject's colour at each edge pixel. The
spread of the subject's interior gives the colour *next to* the edge, which is often another colour
than the edge itself: dark hair strands fan out over a light face's outline, and read against skin
colour their alpha comes out 0.07-0.13 off, flipping strand pixels across 0.5. A small palette of
the subject's colours (k-means at the prompt frame) lets such a pixel take the colour that does
explain it, and ``localise`` then takes that colour as it is nearby (hair lighter here, darker there).
bench.quality: mean IoU 0.960 -> 0.972, dtSSD 3.76 -> 2.95 (bench/RESULTS.md has the steps).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from models.embedded.edges import Sampler, planar_dot, segment_projection, spread_colours

logger = logging.getLogger(__name__)

PALETTE_SIZE = 6  # subject colours kept (skin, hair, some of the clothes): 4 measured worse, 5-12 alike
PALETTE_GAIN = 0.7  # a palette colour replaces the local one when it leaves < this x its distance to the pixel
PALETTE_MIN_OFF = 6.0  # grey levels: a pixel the local colour already explains this well keeps it
NEAR = 30.0  # grey levels: a colour this close to one of the palette's is one of the subject's colours
MIN_PICKS = 20  # pixels that took a palette colour before that colour is localised
_PALETTE_PIXELS = 4000  # a subsample is enough for k-means on a handful of clusters


def subject_palette(image: np.ndarray, mask: np.ndarray, k: int = PALETTE_SIZE) -> np.ndarray | None:
    """The subject's main colours (float32 k x 3): k-means of the pixels where ``mask`` is set.

    Made once, at the prompt frame (refreshing it from later frames' interiors measured worse).
    Deterministic: the clustering starts from a split of the pixels by brightness. None when there
    are too few pixels.
    """
    px = image[mask.astype(bool)].reshape(-1, 3).astype(np.float32)
    if len(px) < 10 * k:
        return None
    px = np.ascontiguousarray(px[:: max(1, len(px) // _PALETTE_PIXELS)])
    order = np.argsort(px.sum(axis=1), kind="stable")
    labels = np.empty(len(px), np.int32)
    labels[order] = np.arange(len(px)) * k // len(px)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, _, centres = cv2.kmeans(px, k, labels.reshape(-1, 1), criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    return centres.astype(np.float32)


def nearest_colour(image: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Index (intp HxW) of the palette colour nearest to each pixel of ``image`` (float32 HxWx3).

    |x - p|^2 = |x|^2 - 2 x.p + |p|^2, and |x|^2 is the same for every p: one matrix product.
    """
    score = image.reshape(-1, 3) @ (-2.0 * palette.T) + np.einsum("ij,ij->i", palette, palette)[None]
    return score.argmin(axis=1).reshape(image.shape[:2])


def palette_distance(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Distance (grey levels, float32 (N,)) from each pixel (N, 3) to the nearest palette colour."""
    px = np.ascontiguousarray(pixels.T, dtype=np.float32)  # planar (3, N): see edges.solve_alpha
    nearest = np.full(px.shape[1], np.inf, np.float32)
    for colour in palette:
        diff = px - colour[:, None]
        np.minimum(nearest, planar_dot(diff, diff), out=nearest)
    return np.sqrt(nearest)


def pick_from_palette(pixel: np.ndarray, fg: np.ndarray, bg: np.ndarray,
                      palette: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``fg`` (N, 3) with some rows replaced by the palette colour that best explains the pixel,
    the index of the palette colour taken per row or -1 where ``fg`` was kept).

    The subject colour spread from the interior is right for most of the edge, but not where the
    edge is made of another colour (hair strands over a face's outline). For such a pixel the
    line from ``bg`` to the right subject colour passes close to it; the palette colour whose line
    passes closest is taken when it explains the pixel clearly better than the local colour
    (``PALETTE_GAIN``), lies in front of the background (a > 0.02) and differs from it
    (|F - B| > 30 levels, else the solve is ill-posed anyway). Only pixels the local colour
    explains badly are looked at (about a third of the edge zone), all palette colours at once.
    """
    e = np.ascontiguousarray((pixel - bg).T)  # planar (3, N): see solve_alpha
    d = np.ascontiguousarray((fg - bg).T)
    _, local = segment_projection(planar_dot(e, e), planar_dot(e, d), planar_dot(d, d))
    sel = np.flatnonzero(local > PALETTE_MIN_OFF**2)
    out = fg.copy()
    choice = np.full(len(fg), -1, np.intp)
    if not sel.size:
        return out, choice
    # Every palette colour at once: (K, 3, n) differences from the background.
    e = e[:, sel]
    d = palette[:, :, None] - np.ascontiguousarray(bg[sel].T)[None]
    ed, dd = planar_dot(e[None], d), planar_dot(d, d)
    _, off = segment_projection(planar_dot(e, e)[None], ed, dd)
    off[(ed <= 0.02 * dd) | (dd <= 900.0)] = np.inf  # behind the background, or too like it
    k = off.argmin(axis=0)
    best = np.take_along_axis(off, k[None], axis=0)[0]
    use = best < PALETTE_GAIN**2 * local[sel]
    out[sel[use]] = palette[k[use]]
    choice[sel[use]] = k[use]
    return out, choice


def drop_far_picks(picked: np.ndarray, choice: np.ndarray, zone: np.ndarray, half: np.ndarray, subject: np.ndarray,
                   palette: np.ndarray, spread: np.ndarray, reach: float) -> None:
    """Undo, in place, each palette pick (``picked``, ``choice`` of ``pick_from_palette`` for the pixels
    ``zone`` of the half-resolution ROI ``half``) whose colour the subject (``subject``: its mask at half
    resolution) does not show within ``reach`` half-resolution px: the pixel takes back the colour
    spread from the interior (``spread``, as it was before the pick).

    Why: a dark strand of hair over dark foliage is as well explained by her jeans' dark blue as by
    her hair's brown, and the pick took whichever line passed closest, from anywhere on the subject:
    the edge was then solved against a colour it does not have (bench.quality --via-pipeline, mask:
    MAD 3.42 -> 3.35 with the check, the linger clips 7.88 -> 7.55). Worked out at quarter resolution,
    like ``localise``: the picks' colours are steady over tens of pixels.
    """
    rows = np.flatnonzero(choice >= 0)
    if not rows.size:
        return
    quarter = cv2.pyrDown(half)
    shown = cv2.pyrDown(subject.astype(np.float32)) > 0.5
    classes = nearest_colour(quarter, palette)
    kinds = np.unique(choice[rows])
    # per picked colour, how far (quarter px) each pixel is from the subject showing it
    apart = np.dstack([cv2.distanceTransform((~(shown & (classes == k))).view(np.uint8), cv2.DIST_L2, 3) for k in kinds])
    ys, xs = np.divmod(zone[rows], half.shape[1])
    far_from = Sampler(xs.astype(np.float32) * 0.5, ys.astype(np.float32) * 0.5)(apart).reshape(len(rows), -1)
    column = np.searchsorted(kinds, choice[rows])
    far = rows[far_from[np.arange(len(rows)), column] > reach * 0.5]
    picked[far] = spread[far]
    choice[far] = -1


def localise(picked: np.ndarray, choice: np.ndarray, zone: np.ndarray, half: np.ndarray, half_inner: np.ndarray,
             palette: np.ndarray) -> None:
    """Each palette pick (``picked``, ``choice`` of ``pick_from_palette`` for the pixels ``zone`` of the
    half-resolution ROI ``half``) takes its colour as it is *nearby*, in place: the subject's interior
    pixels (``half_inner``) of that palette colour, spread. Hair is lighter in one place and darker in
    another; the palette's one mean colour misses that (bench.quality dtSSD 3.04 -> 2.94)."""
    picks = np.bincount(choice[choice >= 0], minlength=len(palette))
    used = np.flatnonzero(picks >= MIN_PICKS)
    if not used.size:
        return
    # At quarter resolution: the colour of hair or cloth drifts over tens of pixels, and the
    # coarser spread is both cheaper and steadier (bench.quality dtSSD 2.96 -> 2.94 against half).
    quarter, quarter_inner = cv2.pyrDown(half), cv2.pyrDown(half_inner)
    weights = quarter_inner[..., None] * (nearest_colour(quarter, palette)[..., None] == used).astype(np.float32)
    present = weights.sum(axis=(0, 1)) >= 5  # none of that colour inside the subject here: keep the mean
    used, weights = used[present], np.ascontiguousarray(weights[..., present])
    if not used.size:
        return
    spread = spread_colours(quarter, weights).reshape(*quarter.shape[:2], -1)  # every used colour at once
    rows = np.flatnonzero(choice >= 0)
    ys, xs = np.divmod(zone[rows], half.shape[1])
    # Sampled where the picks are only (``zone`` indexes ``half``): quarter pixel j is over half pixel 2 j.
    local = Sampler(xs.astype(np.float32) * 0.5, ys.astype(np.float32) * 0.5)(spread).reshape(len(rows), -1, 3)
    slot = np.full(len(palette), -1, np.intp)
    slot[used] = np.arange(len(used))
    column = slot[choice[rows]]
    keep = column >= 0
    picked[rows[keep]] = local[np.flatnonzero(keep), column[keep]]
