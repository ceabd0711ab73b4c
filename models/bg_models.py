"""The text-to-image models a generated background can use: one entry each, looked up by key or repo.

Why a registry of its own: which model to run is a setting (``BGFX_BG_MODEL``), and each model
needs its own steps, guidance and training size; models/bg_generator.py runs whichever entry this
gives. An unknown name is taken as a hub repo or a local folder of a regular model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.exceptions import BackgroundSpecError


@dataclass(frozen=True)
class BgModel:
    """One text-to-image model: where its weights are and how to run it.

    ``native_px`` is the side of the square the model was trained at; pictures are made with about
    that area. ``factory`` builds a ready pipeline instead of loading ``repo_id`` (tests register
    the tiny random-weight pipeline this way).
    """

    key: str
    repo_id: str
    steps: int
    guidance: float
    native_px: int
    fp16_variant: bool = False
    licence: str = "see the model card"
    factory: Callable[[], Any] | None = None


_SAI_NC = "Stability AI Non-Commercial Research Community License (commercial use: stability.ai/license)"

BG_MODELS: dict[str, BgModel] = {
    "sd-turbo": BgModel(
        "sd-turbo",
        "stabilityai/sd-turbo",
        steps=2,
        guidance=0.0,
        native_px=512,
        fp16_variant=True,
        licence=_SAI_NC,
    ),
    "sdxl-turbo": BgModel(
        "sdxl-turbo",
        "stabilityai/sdxl-turbo",
        steps=4,
        guidance=0.0,
        native_px=512,
        fp16_variant=True,
        licence=_SAI_NC,
    ),
    "sdxl": BgModel(
        "sdxl",
        "stabilityai/stable-diffusion-xl-base-1.0",
        steps=30,
        guidance=6.0,
        native_px=1024,
        fp16_variant=True,
        licence="CreativeML Open RAIL++-M",
    ),
}


def resolve_bg_model(name: str) -> BgModel:
    """A registry key ("sd-turbo"), a registered repo id, any other hub repo id, or a local folder."""
    name = name.strip()
    if name in BG_MODELS:
        return BG_MODELS[name]
    for model in BG_MODELS.values():
        if model.repo_id == name:
            return model
    if not name:
        raise BackgroundSpecError("no background model set", "set BGFX_BG_MODEL, e.g. sd-turbo")
    # An unknown repo or folder: a regular (not distilled) model, run with the usual settings.
    return BgModel(name, name, steps=25, guidance=7.0, native_px=512)
