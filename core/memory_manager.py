"""Memory: how much the process uses, how much is left, and when to work in smaller chunks.

The pipeline asks ``chunk_size`` before each chunk: under memory pressure it halves the chunk
instead of letting the machine swap or the process be killed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from functools import lru_cache
from typing import Any

import psutil

logger = logging.getLogger(__name__)

#: below this much available system memory (MB) chunks shrink
LOW_MEMORY_MB = 1024


M_TRIM_THRESHOLD = -1  # glibc mallopt parameters
M_MMAP_THRESHOLD = -3


@lru_cache(maxsize=1)
def configure_allocator(mmap_threshold: int = 32 * 2**20, trim_threshold: int = 256 * 2**20) -> bool:
    """Let the C allocator reuse frame-sized memory instead of asking the kernel for it every frame.

    A video job allocates and frees several frame-sized arrays (3-8 MB at 720p) per frame on a few
    threads. Served by mmap, or returned to the system as soon as the top of the heap is free,
    each one is page-faulted in afresh: at 720p that was 13,000 faults and about 28 ms of kernel
    time a frame, a third of the job. Fixed, high thresholds keep such blocks in the heap and keep
    a freed heap top for the next frame; fixing them also stops glibc from moving the thresholds
    on its own, which is what once let the heap fragment and grow with the clip's length
    (``bench.speed`` shows the peak is flat: a 4x longer clip uses no more). No-op where glibc is
    not the allocator."""
    # torch reads this at its first allocation, so it must be set before torch is imported: its CPU
    # tensors of 2 MB and more then get transparent huge pages (512x fewer page faults for them).
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    return _set_thresholds(mmap_threshold, trim_threshold)


@lru_cache(maxsize=1)
def _glibc() -> Any | None:
    """The C library when it is glibc (``mallopt`` and ``malloc_trim`` exist), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - AttributeError: not glibc
    except (OSError, AttributeError):
        return None
    return libc


def _set_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))
    return bool(ok and libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))


@lru_cache(maxsize=1)
def configure_for_tensors(mmap_threshold: int = 8 * 2**20, trim_threshold: int = 8 * 2**20) -> bool:
    """A real engine on the CPU: blocks of 8 MB and more come from the kernel and go back to it.

    One MatAnyone step at 480 px allocates and frees about 2 GB of tensors, many of 5-106 MB. Kept
    in the heap (``configure_allocator``'s 32 MB threshold) they fragment it: about 300 MB more peak
    RSS than the tensors alive at any moment. Mapped and unmapped, they are page-faulted and zeroed
    afresh each step instead, which costs time. 8 MB is the balance measured on 12 frames of 720p
    (``bench.real_engines ours``, matte stage / peak RSS): 2 MB 32.6-35.1 s / 1388-1392 MB, 4 MB
    31.5-33.4 s / 1406-1411 MB, 8 MB 31.8-32.0 s / 1424-1431 MB, 16 MB 33.2 s / 1519 MB. On 150
    frames, 8 MB took the speed against MatAnyone's demo from 0.97-1.02x to 1.04x for 0.486-0.489x
    its peak memory (bench/RESULTS.md). Process-wide and kept."""
    return _set_thresholds(mmap_threshold, trim_threshold)


def trim() -> None:
    """Hand the heap's free pages back to the system (glibc ``malloc_trim``; no-op elsewhere).

    After a real engine's step on the CPU the heaps hold 100+ MB of freed pages; trimming takes a few
    ms, and once ``configure_for_tensors`` is on the next step is no slower for it."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def rss_mb() -> float:
    """Resident memory of this process, MB."""
    return psutil.Process().memory_info().rss / 2**20


def available_mb() -> float:
    return psutil.virtual_memory().available / 2**20


def torch_memory_mb() -> dict[str, float]:
    """CUDA memory allocated/reserved by torch (empty when torch is not loaded or has no GPU)."""
    torch = sys.modules.get("torch")  # never import torch just to ask
    if torch is None or not torch.cuda.is_available():
        return {}
    return {
        "cuda_allocated_mb": torch.cuda.memory_allocated() / 2**20,
        "cuda_reserved_mb": torch.cuda.memory_reserved() / 2**20,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20,
    }


def snapshot() -> dict[str, Any]:
    """What the memory panel and the report show."""
    vm = psutil.virtual_memory()
    return {
        "rss_mb": round(rss_mb(), 1),
        "available_mb": round(vm.available / 2**20, 1),
        "total_mb": round(vm.total / 2**20, 1),
        **{k: round(v, 1) for k, v in torch_memory_mb().items()},
    }


def under_pressure(threshold_mb: float = LOW_MEMORY_MB) -> bool:
    """True when the system is close to running out of memory (RAM, or GPU memory on CUDA)."""
    if available_mb() < threshold_mb:
        return True
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info()
        return free < 0.05 * total
    return False


#: what a queue between two stages of a job may hold (MB of frames)
QUEUE_MB = 128


def queue_depth(chunk: int, frame_bytes: int) -> int:
    """Frames a queue between two stages holds: the chunk, or fewer where frames are big (4K: 5 of
    24 MB, not 16: with the encoders' queues holding every output's image, 0.3 GB less)."""
    return max(2, min(chunk, int(QUEUE_MB * 2**20 / max(frame_bytes, 1))))


def chunk_size(requested: int, pressure: bool | None = None) -> int:
    """The chunk to use now: ``requested``, or a quarter of it (at least 1) under pressure."""
    if pressure is None:
        pressure = under_pressure()
    if pressure:
        smaller = max(1, requested // 4)
        logger.warning("memory pressure: chunk %d -> %d frames", requested, smaller)
        return smaller
    return requested


class PeakRSS:
    """Samples RSS in a background thread so the report gets the true peak of a job."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_mb = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())
