"""``prompt:TEXT``: a background drawn by a text-to-image model from the user's description.

Why a thin class: the work (sizing, weights, cache, fallback) lives in ``models.bg_generator`` so
the studio's Generate button and a job share it; this class only fits it to the background role.
The picture is made once in ``open`` (or read from the cache) and every frame returns it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from app_config import Settings, get_settings
from core.exceptions import BackgroundSpecError
from models import bg_generator
from models.backgrounds.base import BackgroundSource, OutputGeometry, ProgressFn

logger = logging.getLogger(__name__)


class GeneratedBackground(BackgroundSource):
    """A picture generated from ``argument`` (the prompt) at the output size.

    ``seed`` comes from the job (``JobRequest.seed``); ``settings`` default to the process-wide
    ones; ``model`` overrides ``settings.bg_model`` (a key of ``bg_models.BG_MODELS``, which is
    how tests inject the tiny pipeline). After ``open``, ``notice`` says why a procedural picture
    was drawn instead (None when the model ran) and ``info`` holds the generator's details.
    """

    kind = "prompt"

    def __init__(
        self,
        argument: str = "",
        seed: int | None = None,
        settings: Settings | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(argument)
        self.prompt = argument.strip().strip('"').strip()
        if not self.prompt:
            raise BackgroundSpecError(
                "prompt: needs a description", 'write e.g. prompt:"a quiet beach at sunset"'
            )
        self.seed = seed
        self.settings = settings
        self.model = model
        self.info: dict = {}
        self._image: np.ndarray | None = None

    def open(self, geometry: OutputGeometry, progress: ProgressFn | None = None) -> None:
        """Generate (or read from the cache) one picture of exactly the output size."""
        super().open(geometry, progress)
        settings = self.settings or get_settings()
        if self.model is not None:
            settings = replace(settings, bg_model=self.model)
        image, self.info = bg_generator.generate_background_image(
            self.prompt, self.seed, geometry.display_width, geometry.height, settings=settings, progress=progress
        )
        image = geometry.stored(image)
        self.notice = self.info.get("notice")
        image.flags.writeable = False  # the same array serves every frame: nobody may draw on it
        self._image = image
        logger.info(
            "prompt background ready: model=%s cached=%s", self.info.get("model"), self.info.get("cached")
        )

    def frame(self, index: int, original: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        if self._image is None:
            raise RuntimeError("GeneratedBackground.frame called before open")
        return self._image

    def close(self) -> None:
        self._image = None
