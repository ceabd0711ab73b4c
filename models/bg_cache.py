"""The disk cache of generated backgrounds: one PNG (and a JSON of its info) per (prompt, seed,
size, model), so a re-run job neither loads nor runs the model."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from app_config import Settings
from core.exceptions import OutputNotWritableError
from core.image_io import save_png

logger = logging.getLogger(__name__)

CACHE_VERSION = 1


def cache_path(settings: Settings, prompt: str, seed: int, width: int, height: int, model_key: str) -> Path:
    """``work_dir/bg-cache/<hash>.png`` for (prompt, seed, size, model); a JSON of info sits beside it."""
    key = json.dumps([CACHE_VERSION, prompt, seed, width, height, model_key], ensure_ascii=False)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return settings.work_dir / "bg-cache" / f"{digest}.png"


def read_cache(path: Path, width: int, height: int) -> tuple[np.ndarray, dict] | None:
    if not (path.is_file() and path.with_suffix(".json").is_file()):
        return None
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (height, width):
        logger.warning("ignoring unreadable background cache entry %s", path)
        return None
    info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), info


def write_cache(path: Path, image: np.ndarray, info: dict) -> None:
    """The info first, then the PNG (written atomically): a PNG present always has its info."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".json").write_text(json.dumps(info), encoding="utf-8")
        save_png(path, image)
    except (OSError, OutputNotWritableError) as exc:  # a full or read-only disk costs a regeneration, not the job
        logger.warning("background cache not written: %s", exc)
