"""Seeded random weights for the real architectures (``BGFX_WEIGHTS=random``).

Why this exists: the real SAM2 and MatAnyone networks cost the same to run whatever their weights,
so tests and benchmarks build them with random weights where no checkpoint can be downloaded.
The results are meaningless pictures, which is why every report and the studio say so loudly.

The seed is fixed and the global torch random state is restored afterwards, so two builds of the
same architecture are identical (the fidelity tests rely on that) and nobody else's randomness moves.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

#: Seed of every random-weights build; one value so that separate builds agree.
RANDOM_SEED = 20240917

#: Shown in report.json, the CLI and the studio whenever random weights ran.
RANDOM_WEIGHTS_BANNER = "RANDOM WEIGHTS (tests/benchmarks only: the mattes are meaningless)"


@contextlib.contextmanager
def seeded(seed: int = RANDOM_SEED) -> Iterator[None]:
    """Run a model build under a fixed torch seed, leaving the caller's random state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tame_matanyone(network: Any) -> Any:
    """Make a randomly initialised MatAnyone numerically usable, without changing what it computes.

    Two things that training takes care of break a fresh network: its memory keys are so far apart
    that every top-k affinity underflows to zero (0/0 = NaN from the second frame on), and its
    matting head's output clamps to 0 everywhere. We rescale exactly three tensors: the key
    projection (x0.1), the shrinkage projection (weights 0, so shrinkage = 1 + bias^2), and the
    matting head (centred on 0.5, x0.25). Shapes, layers and arithmetic are unchanged, so speed and
    memory measured with these weights hold for trained ones.
    """
    import torch

    with torch.no_grad():
        network.key_proj.key_proj.weight.mul_(0.1)
        network.key_proj.d_proj.weight.zero_()
        network.mask_decoder.pred_mat.weight.mul_(0.25)
        network.mask_decoder.pred_mat.bias.fill_(0.5)
    return network
