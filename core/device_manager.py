"""Which device and number format the real models run on.

torch is imported lazily: the embedded engine and the CLI's error paths must work (and start fast)
even where torch is missing or broken.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA install raising at import
        return False
    return True


def pick_device(setting: str = "auto") -> Any:
    """``torch.device`` for ``setting`` (auto|cpu|cuda|mps); ``auto`` prefers CUDA, then MPS, then CPU.

    Asking for a device that is not there falls back to the CPU with a warning instead of failing a
    job that the CPU can still do.
    """
    import torch

    if setting in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if setting in ("auto", "mps") and mps is not None and mps.is_available():
        return torch.device("mps")
    if setting not in ("auto", "cpu"):
        logger.warning("device %r requested but not available: using the CPU", setting)
    return torch.device("cpu")


def autocast_dtype(device: Any) -> Any:
    """The reduced precision to run models in on ``device``: bf16 where supported, fp16 on older
    GPUs and MPS, ``None`` (full fp32) on the CPU, where autocast buys little and costs accuracy."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return None


@contextlib.contextmanager
def inference(device: Any, dtype: Any) -> Iterator[None]:
    """No autograd, and autocast to ``dtype`` when one is given (on GPUs; ``None`` on the CPU):
    how every model of the studio runs."""
    import torch

    with torch.inference_mode():
        if dtype is not None:
            with torch.autocast(device.type, dtype=dtype):
                yield
        else:
            yield


def describe(setting: str = "auto") -> dict[str, Any]:
    """What the device panel and the job report show about the compute device."""
    info: dict[str, Any] = {"device": "cpu", "dtype": "float32", "torch": None}
    if not torch_available():
        info["note"] = "torch not installed: embedded engine only"
        return info
    import torch

    device = pick_device(setting)
    dtype = autocast_dtype(device)
    info.update(device=device.type, dtype=str(dtype).replace("torch.", "") if dtype else "float32",
                torch=torch.__version__, threads=torch.get_num_threads())
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_mb=round(props.total_memory / 2**20))
    return info
