"""ZeroGPU support: wrap GPU-bound functions with ``spaces.GPU`` on a ZeroGPU Space, else do nothing.

On a ZeroGPU Space a GPU is attached only while a function decorated with ``spaces.GPU`` runs,
and that function may run in another process: its arguments and results are pickled. So the
functions wrapped here take and return plain data (paths, dataclasses of arrays), never a
``gr.Progress``, a ``threading.Event`` or a model. Elsewhere (a local GPU, a CPU, a dedicated
Space GPU) the decorator returns the function unchanged.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def on_zero_gpu() -> bool:
    """True on a Hugging Face ZeroGPU Space (the platform sets SPACES_ZERO_GPU) with ``spaces`` installed."""
    flag = os.environ.get("SPACES_ZERO_GPU", "").strip().lower()
    if flag not in ("1", "true", "yes"):
        return False
    return importlib.util.find_spec("spaces") is not None


def gpu(duration: int = 60) -> Callable[[F], F]:
    """Decorator: ``spaces.GPU(duration=...)`` on ZeroGPU, the identity elsewhere.

    ``duration`` is the longest the function is expected to hold the GPU, in seconds; ZeroGPU
    uses it to schedule visitors fairly.
    """

    def wrap(fn: F) -> F:
        if not on_zero_gpu():
            return fn
        import spaces  # only importable (and only meaningful) on a Space

        logger.info("ZeroGPU: %s runs under spaces.GPU(duration=%d)", fn.__name__, duration)
        return spaces.GPU(duration=duration)(fn)

    return wrap
