"""Choosing the engine for a job: ``auto`` takes the real models when their weights can be had,
else the embedded engine, and always says which one ran and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app_config import Settings
from core.exceptions import EngineUnavailableError, StudioError
from models.base import Matter, Segmenter
from models.registry import MATTERS, SEGMENTERS, load_class

logger = logging.getLogger(__name__)


@dataclass
class EngineChoice:
    """A ready segmenter, a factory of fresh matters (one per direction), and the reason."""

    name: str  # "embedded" or "sam2"
    reason: str
    segmenter: Segmenter
    matter_factory: Callable[[], Matter]
    warnings: list[str] = field(default_factory=list)


def embedded_engine(settings: Settings, reason: str) -> EngineChoice:
    """The engine that needs no weights: always available."""
    seg_cls = load_class(SEGMENTERS["embedded"])
    matter_cls = load_class(MATTERS["embedded"])
    preset = settings.preset
    return EngineChoice(
        name="embedded",
        reason=reason,
        segmenter=seg_cls(),
        matter_factory=lambda: matter_cls(preset=preset),
    )


def resolve_engine(requested: str, settings: Settings) -> EngineChoice:
    """``requested`` is auto, embedded or sam2. ``sam2`` fails loudly; ``auto`` falls back."""
    if requested not in ("auto", "embedded", "sam2"):
        raise EngineUnavailableError(f"unknown engine {requested!r}", "use --engine auto, embedded or sam2")
    if requested == "embedded":
        return embedded_engine(settings, "embedded engine chosen")
    try:
        from models import model_loader

        segmenter, matter_factory, description = model_loader.load_real_engine(settings)
    except StudioError as exc:
        if requested == "sam2":
            raise
        logger.info("real engine unavailable, using embedded: %s", exc.message)
        return embedded_engine(settings, f"embedded engine: {exc.message}")
    except ImportError as exc:  # torch/sam2/MatAnyone not installed
        if requested == "sam2":
            raise EngineUnavailableError(
                f"the sam2 engine cannot be imported ({exc})", "run scripts/setup.sh, or use --engine embedded"
            ) from exc
        return embedded_engine(settings, f"embedded engine: real engine not installed ({exc})")
    warnings = ["RANDOM WEIGHTS: results are meaningless (tests/benchmarks only)"] if settings.weights == "random" else []
    return EngineChoice("sam2", description, segmenter, matter_factory, warnings)
