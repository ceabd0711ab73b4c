"""Every setting of the studio in one place: environment variables, quality presets, limits, model ids.

Settings are read and validated once (``get_settings()``); a bad value stops start-up with a
``ConfigError`` that names the variable, instead of failing halfway through a job.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from core.exceptions import ConfigError

logger = logging.getLogger(__name__)

ENGINES = ("auto", "embedded", "sam2")
QUALITIES = ("fast", "balanced", "best")
WEIGHT_MODES = ("hub", "random")
OUTPUT_FORMATS = (
    "composite.mp4", "alpha.mp4", "foreground.webm", "foreground.mov", "greenscreen.mp4", "foreground.webp",
)
#: Keys of models/model_loader.py's registry that BGFX_SAM2_MODEL / BGFX_MATANYONE_MODEL accept.
SAM2_MODELS = ("sam2.1-tiny", "sam2.1-small", "sam2.1-base-plus", "sam2.1-large")
MATANYONE_MODELS = ("matanyone", "matanyone2")
DEFAULT_FORMATS = ("composite.mp4", "alpha.mp4", "foreground.webm")


@dataclass(frozen=True)
class QualityPreset:
    """What a quality level means for every engine and encoder.

    ``embedded_scale_px`` is the long side at which the embedded engine tracks the subject;
    ``matanyone_max_size`` the internal short side MatAnyone works at (-1 = native);
    ``sam2_model`` a key of the model registry.
    """

    name: str
    embedded_scale_px: int
    embedded_refine: bool
    sam2_model: str
    matanyone_model: str
    matanyone_max_size: int
    matanyone_warmup: int
    crf: int
    x264_preset: str


# The embedded engine's fast preset tracks at 256 px and still solves the edge at full resolution:
# bench.quality (mask) 0.9704 / 4.32 / 3.14 against 0.9139 / 10.68 / 5.79 without the edge solve at
# 384 px, for 0.6-1.0 ms more of matter a 720p frame (bench/RESULTS.md, thirteenth session).
PRESETS: dict[str, QualityPreset] = {
    "fast": QualityPreset("fast", 256, True, "sam2.1-tiny", "matanyone", 480, 5, 23, "superfast"),
    "balanced": QualityPreset("balanced", 384, True, "sam2.1-small", "matanyone", 720, 10, 20, "veryfast"),
    "best": QualityPreset("best", 768, True, "sam2.1-large", "matanyone2", -1, 10, 17, "medium"),
}


@dataclass(frozen=True)
class Settings:
    """The validated settings. Build with ``get_settings()``; tests use ``dataclasses.replace``."""

    engine: str = "auto"
    quality: str = "balanced"
    weights: str = "hub"
    device: str = "auto"
    checkpoint_dir: Path | None = None
    bg_model: str = "stabilityai/sd-turbo"
    max_duration_s: float = 600.0
    max_side_px: int = 4096
    #: photos may be larger: a phone's 48 MP picture is 8064 px wide, and one picture costs seconds
    max_photo_side_px: int = 12000
    max_upload_mb: int = 2048
    chunk_frames: int = 16
    work_dir: Path = field(default_factory=lambda: Path(os.environ.get("TMPDIR", "/tmp")) / "bgfx")
    port: int = 7860
    queue_size: int = 16
    gpu_concurrency: int = 1
    hub_timeout_s: float = 10.0
    sam2_model: str | None = None  # overrides the preset's SAM2 checkpoint (BGFX_SAM2_MODEL)
    matanyone_model: str | None = None  # overrides the preset's MatAnyone (BGFX_MATANYONE_MODEL)
    cuda_graphs: bool = True  # MatAnyone's network calls replayed as CUDA graphs on a GPU (BGFX_CUDA_GRAPHS)

    @property
    def preset(self) -> QualityPreset:
        return PRESETS[self.quality]


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _env_number(name: str, default: float, kind: type, minimum: float, maximum: float = math.inf) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if not math.isfinite(value):  # "nan" compares false with everything: a limit that never holds
        raise ConfigError(f"{name}={raw!r} is not a finite number")
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum:g}")
    if value > maximum:
        raise ConfigError(f"{name}={raw!r} must be at most {maximum:g}")
    return value


def load_settings() -> Settings:
    """Read every BGFX_* variable, validate it and return frozen settings."""
    ckpt = os.environ.get("BGFX_CHECKPOINT_DIR")
    checkpoint_dir = Path(ckpt).expanduser() if ckpt else None
    if checkpoint_dir is not None and not checkpoint_dir.is_dir():
        raise ConfigError(f"BGFX_CHECKPOINT_DIR={ckpt!r} is not a folder")
    work = os.environ.get("BGFX_WORK_DIR")
    settings = Settings(
        engine=_env_choice("BGFX_ENGINE", "auto", ENGINES),
        quality=_env_choice("BGFX_QUALITY", "balanced", QUALITIES),
        weights=_env_choice("BGFX_WEIGHTS", "hub", WEIGHT_MODES),
        device=_env_choice("BGFX_DEVICE", "auto", ("auto", "cpu", "cuda", "mps")),
        checkpoint_dir=checkpoint_dir,
        bg_model=os.environ.get("BGFX_BG_MODEL", "stabilityai/sd-turbo"),
        max_duration_s=_env_number("BGFX_MAX_DURATION_S", 600.0, float, 0.1),
        max_side_px=int(_env_number("BGFX_MAX_SIDE_PX", 4096, int, 16)),
        max_photo_side_px=int(_env_number("BGFX_MAX_PHOTO_SIDE_PX", 12000, int, 16)),
        max_upload_mb=int(_env_number("BGFX_MAX_UPLOAD_MB", 2048, int, 1)),
        chunk_frames=int(_env_number("BGFX_CHUNK_FRAMES", 16, int, 1)),
        port=int(_env_number("BGFX_PORT", 7860, int, 1, 65535)),
        queue_size=int(_env_number("BGFX_QUEUE_SIZE", 16, int, 1)),
        gpu_concurrency=int(_env_number("BGFX_GPU_CONCURRENCY", 1, int, 1)),
        hub_timeout_s=_env_number("BGFX_HUB_TIMEOUT_S", 10.0, float, 0.5),
        sam2_model=_env_choice("BGFX_SAM2_MODEL", "", ("",) + SAM2_MODELS) or None,
        matanyone_model=_env_choice("BGFX_MATANYONE_MODEL", "", ("",) + MATANYONE_MODELS) or None,
        cuda_graphs=_env_choice("BGFX_CUDA_GRAPHS", "on", ("on", "off")) == "on",
    )
    if work:
        settings = replace(settings, work_dir=Path(work).expanduser())
    if settings.weights == "random":
        logger.warning("BGFX_WEIGHTS=random: real architectures with RANDOM weights (tests/benchmarks only)")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use (start-up of app.py)."""
    return load_settings()
