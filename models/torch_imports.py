"""Importing the real engines' packages (sam2, MatAnyone) without loading TorchDynamo.

Why: both packages import torchvision, and torchvision's ``ops/roi_align.py`` imports one helper
from ``torch._dynamo.utils`` at module level. That single line loads PyTorch's whole compiler stack
(TorchDynamo, sympy, Triton's 70 MB library): about 150 MB of resident memory and a second of start
time in every job, for code our path never runs (no roi_align, no torch.compile). While torchvision
loads, the helper is given a stand-in that forwards to the real one on first call; the real
``torch._dynamo`` is not touched, so anything that needs it later imports it as usual.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import types
from typing import Any

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()


def _is_compile_supported(device_type: Any) -> Any:
    """torchvision's roi_align asks this when it runs: answered by the real torch._dynamo."""
    return importlib.import_module("torch._dynamo.utils").is_compile_supported(device_type)


def import_engine_packages() -> None:
    """Import torch, torchvision, sam2 and MatAnyone's inference core (ImportError if missing)."""
    with _LOCK:
        import torch

        if "torchvision" not in sys.modules and "torch._dynamo" not in sys.modules:
            package = types.ModuleType("torch._dynamo")
            package.__path__ = []  # a package, so that "torch._dynamo.utils" resolves to the stand-in
            utils = types.ModuleType("torch._dynamo.utils")
            utils.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
            sys.modules["torch._dynamo"], sys.modules["torch._dynamo.utils"] = package, utils
            try:
                import torchvision  # noqa: F401
            finally:
                for name in ("torch._dynamo.utils", "torch._dynamo"):
                    if sys.modules.get(name) in (package, utils):
                        del sys.modules[name]
                if torch.__dict__.get("_dynamo") is package:  # torch loads the real one lazily again
                    del torch._dynamo
            logger.debug("torchvision imported without torch._dynamo")
        import matanyone2.inference.inference_core  # noqa: F401
        import sam2.sam2_image_predictor  # noqa: F401
