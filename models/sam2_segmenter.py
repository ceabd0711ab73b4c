"""The real segmenter: SAM2's image predictor turns clicks or a box on the prompt frame into a mask.

Why it is shaped this way:
- ``set_image`` runs the heavy image encoder once per frame and remembers which frame it saw, so
  every further click on the same frame runs only SAM2's small prompt decoder.
- SAM2 is asked for three candidate masks (multimask) and the best-scoring one is kept; its
  low-resolution logits go back to the caller so that the next click refines that mask instead of
  starting over (``previous`` in ``segment``); a previous answer with no logits (a subject's matte
  carried to a correction frame) goes in as logits made from its mask.
- The network itself is shared by every session (models/model_loader.py caches one copy per
  device); each ``SAM2Segmenter`` only holds its own predictor state (the current image's features).
- A process that runs one job and exits (the CLI) has no use for SAM2 once the masks are made, so
  its segmenter can be built with ``on_close``: ``close`` then lets go of the network too and calls
  it (models/model_loader.py evicts the network and hands the memory back before the matting runs).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from core.exceptions import (
    EmptyMaskError,
    EngineFailedError,
    MaskSizeError,
    NoPromptError,
    PointOutOfFrameError,
    PromptError,
)
from models.base import ObjectPrompt, Segmenter, SegmentResult

#: a carried mask as SAM2's mask input: +MASK_LOGIT inside, -MASK_LOGIT outside (a clear answer)
MASK_LOGIT = 10.0

logger = logging.getLogger(__name__)


def build_sam2_model(config_name: str, checkpoint: str | None, device: Any) -> Any:
    """Build the SAM2 network from the config shipped inside the sam2 package.

    ``checkpoint=None`` leaves the weights as initialised (random weights mode). The device is
    always passed: sam2's build functions otherwise default to "cuda".

    Importing sam2 initialises Hydra's global state with sam2's own config module; anything else
    that used Hydra meanwhile (MatAnyone's helper ``get_matanyone2_model`` does) leaves Hydra
    pointing at other configs. We clear it and point it back at sam2 before each build. Builds are
    rare (models are cached), so this costs nothing.
    """
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from sam2.build_sam import build_sam2

    GlobalHydra.instance().clear()
    initialize_config_module("sam2", version_base="1.2")
    return build_sam2(config_name, ckpt_path=checkpoint, device=str(device), mode="eval")


def merge_masks(results: dict[int, SegmentResult]) -> np.ndarray:
    """Union of several subjects' masks: what the matte propagates when subjects are not kept apart."""
    if not results:
        raise NoPromptError("no subject was segmented")
    masks = [r.mask for r in results.values()]
    return np.logical_or.reduce(masks) if len(masks) > 1 else masks[0].copy()


class SAM2Segmenter(Segmenter):
    """Clicks/box on one image -> the best of SAM2's three candidate masks."""

    name = "sam2"

    def __init__(self, model: Any, *, dtype: Any = None, multimask: bool = True,
                 on_close: Callable[[], object] | None = None) -> None:
        """``model`` is a built SAM2Base (shared); ``dtype`` an autocast type on GPUs, None on CPU.

        With ``on_close`` the segmenter is single-use: ``close`` drops the network as well and then
        calls ``on_close`` (which frees it); any later ``set_image`` is an error.
        """
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self._predictor: Any = SAM2ImagePredictor(model)
        self._on_close = on_close
        self._device = model.device
        self._dtype = dtype
        self._multimask = multimask
        self._image_key: str | None = None
        self._shape: tuple[int, int] | None = None

    def _compute(self) -> contextlib.AbstractContextManager:
        """No autograd, and reduced precision on GPUs (as SAM2's own examples run it)."""
        from core.device_manager import inference

        return inference(self._device, self._dtype)

    @staticmethod
    def _key(image: np.ndarray) -> str:
        return hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() + str(image.shape)

    @property
    def image_key(self) -> str | None:
        """Fingerprint of the image whose embedding is cached (None before the first image)."""
        return self._image_key

    def set_image(self, image: np.ndarray) -> None:
        """Encode ``image`` unless it is the image already encoded (then this is free)."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise PromptError("the prompt frame must be an RGB uint8 image", "this is a bug: please report it")
        if self._predictor is None:
            raise EngineFailedError("the SAM2 segmenter was used after it released its network",
                                    "this is a bug: please report it with the job report")
        key = self._key(image)
        if key == self._image_key:
            logger.debug("image embedding reused")
            return
        with self._compute():
            self._predictor.set_image(image)
        self._image_key = key
        self._shape = (int(image.shape[0]), int(image.shape[1]))

    def _check_inside(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        assert self._shape is not None
        height, width = self._shape
        for x, y in zip(xs, ys, strict=True):
            if not (0 <= x < width and 0 <= y < height):
                raise PointOutOfFrameError(f"point ({x:g}, {y:g}) is outside the {width}x{height} frame")

    def _check_box(self, box: np.ndarray) -> None:
        assert self._shape is not None
        height, width = self._shape
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise PointOutOfFrameError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is empty or outside the "
                                       f"{width}x{height} frame", "a box is x0,y0,x1,y1 with x0<x1, y0<y1")

    def segment(self, prompt: ObjectPrompt, previous: SegmentResult | None = None) -> SegmentResult:
        """Mask for one subject. A given mask is taken as is; otherwise clicks and/or box go to SAM2."""
        if self._shape is None:
            raise PromptError("no frame to segment yet", "this is a bug: set_image must come first")
        if prompt.mask is not None:
            mask = np.asarray(prompt.mask)
            if mask.shape[:2] != self._shape:
                raise MaskSizeError(f"mask is {mask.shape[1]}x{mask.shape[0]}, frame is "
                                    f"{self._shape[1]}x{self._shape[0]}")
            mask = mask.astype(bool)
            if not mask.any():
                raise EmptyMaskError("the given mask has no subject pixels")
            return SegmentResult(mask=mask, score=1.0, logits=None)
        if prompt.is_empty():
            raise NoPromptError(f"subject {prompt.object_id} has no click, box or mask")
        if len(prompt.points) != len(prompt.labels):
            raise PromptError(f"{len(prompt.points)} points but {len(prompt.labels)} labels",
                              "give one label (1 = subject, 0 = not subject) per point")
        coords = labels = box = None
        if prompt.points:
            coords = np.asarray(prompt.points, dtype=np.float32).reshape(-1, 2)
            labels = np.asarray(prompt.labels, dtype=np.int32)
            self._check_inside(coords[:, 0], coords[:, 1])
        if prompt.box is not None:
            box = np.asarray(prompt.box, dtype=np.float32)
            self._check_box(box)
        mask_input = None
        if previous is not None:
            logits = previous.logits if previous.logits is not None else self._mask_logits(previous.mask)
            mask_input = logits[None, :, :]
        with self._compute():
            masks, scores, low_res = self._predictor.predict(
                point_coords=coords, point_labels=labels, box=box, mask_input=mask_input,
                multimask_output=self._multimask,
            )
        best = int(np.argmax(scores))
        return SegmentResult(mask=masks[best] > 0.5, score=float(scores[best]), logits=low_res[best])

    def _mask_logits(self, mask: np.ndarray) -> np.ndarray:
        """A mask as SAM2's mask input: logits at the prompt encoder's size, over the whole image
        squeezed to a square as SAM2 squeezes its input, MASK_LOGIT inside and its negative outside."""
        side_y, side_x = self._predictor.model.sam_prompt_encoder.mask_input_size
        low = cv2.resize(mask.astype(np.float32), (side_x, side_y), interpolation=cv2.INTER_AREA)
        return ((2.0 * low - 1.0) * MASK_LOGIT).astype(np.float32)

    def segment_objects(
        self, prompts: Sequence[ObjectPrompt], previous: dict[int, SegmentResult] | None = None
    ) -> dict[int, SegmentResult]:
        """One mask per subject (object_id), each refined from its own previous result if given."""
        previous = previous or {}
        results: dict[int, SegmentResult] = {}
        for prompt in prompts:
            if prompt.object_id in results:
                raise PromptError(f"subject {prompt.object_id} is given twice", "give each subject one id")
            results[prompt.object_id] = self.segment(prompt, previous.get(prompt.object_id))
        return results

    def close(self) -> None:
        """Drop the cached image features; the shared network stays loaded unless ``on_close`` was
        given, in which case the network is dropped too and ``on_close`` frees it (once)."""
        if self._predictor is not None:
            self._predictor.reset_predictor()
        self._image_key = None
        self._shape = None
        if self._on_close is not None:
            self._predictor = None  # the predictor holds the network: nothing here refers to it now
            release, self._on_close = self._on_close, None
            release()
