"""Frames and mattes parked on disk while the backward pass walks a clip in reverse.

Plain file reads and writes (``pread``/``pwrite``, not a memory map): the pages live in the
system's file cache, not in this process's resident memory, so memory stays flat however long the
clip or the group of pictures. Files are anonymous temporary files, gone when closed or when the
process dies.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from core.compositing import alpha_to_u8

logger = logging.getLogger(__name__)


class RawSpill:
    """uint8 arrays of one ``shape``, written and read by index in any order (the file grows as
    far as the highest index written)."""

    def __init__(self, work_dir: Path, shape: tuple[int, ...], prefix: str = "spill-") -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.shape = shape
        self.item_bytes = int(np.prod(shape))
        self._file = tempfile.TemporaryFile(dir=work_dir, prefix=prefix)  # noqa: SIM115 - closed by close()

    def write(self, index: int, array: np.ndarray) -> None:
        os.pwrite(self._file.fileno(), np.ascontiguousarray(array, dtype=np.uint8).data, index * self.item_bytes)

    def read(self, index: int) -> np.ndarray:
        data = os.pread(self._file.fileno(), self.item_bytes, index * self.item_bytes)
        return np.frombuffer(data, dtype=np.uint8).reshape(self.shape)

    def close(self) -> None:
        self._file.close()


class AlphaSpill(RawSpill):
    """Alphas (float in [0, 1]) stored as 8-bit, as every output stores them anyway."""

    def __init__(self, work_dir: Path, height: int, width: int) -> None:
        super().__init__(work_dir, (height, width), prefix="alpha-spill-")

    def write(self, index: int, alpha: np.ndarray) -> None:
        super().write(index, alpha_to_u8(alpha))

    def read(self, index: int) -> np.ndarray:
        return super().read(index).astype(np.float32) / 255.0

    def add(self, index: int, alpha: np.ndarray) -> None:
        """Union with what is there (each pixel as opaque as the more opaque of the two; nothing
        written there yet reads as transparent): a second pass's subjects join the first's."""
        data = os.pread(self._file.fileno(), self.item_bytes, index * self.item_bytes)
        new = alpha_to_u8(alpha)
        if len(data) == self.item_bytes:
            np.maximum(new, np.frombuffer(data, dtype=np.uint8).reshape(self.shape), out=new)
        RawSpill.write(self, index, new)
