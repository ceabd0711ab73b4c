"""The role interfaces every engine implements.

A front end never calls a model directly: the pipeline (core/video_processor.py) asks the
registry for a Segmenter and a Matter and drives them through these methods only.

Conventions, shared by all engines so that they can be swapped freely:
- images are RGB ``uint8`` arrays of shape (H, W, 3), upright (rotation already applied);
- masks are ``bool`` (H, W); alphas are ``float32`` (H, W) in [0, 1], straight (not premultiplied);
- coordinates are in pixels of the image given, x to the right, y down.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

T = TypeVar("T")

POSITIVE = 1
NEGATIVE = 0


@dataclass
class ObjectPrompt:
    """What a person said about one subject on one frame: clicks, a box, or a whole mask."""

    object_id: int = 1
    points: list[tuple[float, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # POSITIVE (subject) / NEGATIVE (not subject)
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    mask: np.ndarray | None = None  # bool (H, W); when given, clicks and box are ignored

    def is_empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None


@dataclass
class SegmentResult:
    """One subject's mask on one image, with what the segmenter needs to refine it later."""

    mask: np.ndarray  # bool (H, W)
    score: float
    logits: np.ndarray | None = None  # engine-specific low-res logits, fed back on the next click
    #: bool (H, W) or None: what the segmenter found to be background (the embedded engine: the
    #: background seen through gaps in the subject), kept out at the next click
    background: np.ndarray | None = None


class Segmenter(ABC):
    """Clicks/box on one image -> mask. ``set_image`` is the slow part and is cached by callers."""

    name: str = "segmenter"

    @abstractmethod
    def set_image(self, image: np.ndarray) -> None:
        """Compute whatever per-image state (embedding, features) further clicks reuse."""

    @abstractmethod
    def segment(self, prompt: ObjectPrompt, previous: SegmentResult | None = None) -> SegmentResult:
        """Mask for ``prompt`` on the image last given to ``set_image``."""

    def refine(self, prompt: ObjectPrompt, carried: np.ndarray) -> np.ndarray:
        """``carried`` (a subject's matte carried to this image, bool) as ``prompt``'s clicks correct
        it: what a positive click selects is added, what a negative one selects taken out, the rest
        stays. By default the carried mask is the previous answer that the clicks refine, as SAM
        refines its mask input."""
        return self.segment(prompt, SegmentResult(mask=carried.astype(bool), score=1.0)).mask

    def use_clip(self, samples: SampleSource | None) -> None:  # noqa: B027 - optional hook
        """Frames of the clip that the images to come belong to (None: a photo, or no clip). A
        segmenter may look at them, only when a click needs it: the embedded one tells what moves
        against a still camera's background."""

    def keep_clip_look(self) -> None:  # noqa: B027 - optional hook
        """Finish any look at the clip of ``use_clip`` and keep its answer: the clip's frames are
        about to go while clicks on later frames are still to come (corrections)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory held for the current image."""


class SampleSource(Protocol):
    """Frames a matter may look at before it starts, each decoded only when asked for.

    Why lazy: spreading samples over a clip with few keyframes means decoding most of it, which
    only pays when the camera is still (a clean plate by temporal median); a quick look at two
    frames first tells a moving camera, and then nothing more is decoded.
    """

    def pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Two frames a few frames apart (the prompt frame and one shortly after), or None."""
        ...

    def spread(self) -> list[np.ndarray]:
        """Frames spread over the whole clip (decoded once, then kept)."""
        ...

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key`` for this source: what two matters of one job (forwards and
        backwards from a prompt frame mid-clip) would otherwise both work out from the same frames.
        The value is shared: a caller that changes it must copy it first."""
        ...


class FrameList:
    """A ``SampleSource`` over frames already in memory (spread over a clip): tests, benchmarks."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self.frames = list(frames)
        self._memo: dict[Hashable, Any] = {}

    def pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        return (self.frames[0], self.frames[1]) if len(self.frames) >= 2 else None

    def spread(self) -> list[np.ndarray]:
        return self.frames

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


def as_sample_source(samples: SampleSource | Sequence[np.ndarray]) -> SampleSource:
    return samples if hasattr(samples, "spread") else FrameList(samples)  # type: ignore[arg-type]


class Matter(ABC):
    """Streaming propagation: a first mask, then one alpha per frame, in the order frames are fed.

    The pipeline feeds frames forwards from the prompt frame, and (with a fresh instance)
    backwards from it for the frames before. It never holds more than one chunk of frames.
    """

    name: str = "matter"

    def prepare(self, samples: SampleSource | Sequence[np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Optional look at the clip before starting (e.g. for a background plate). ``samples``
        decodes only what the matter asks for; a list of frames spread over the clip also works."""

    @abstractmethod
    def start(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Begin on ``frame`` with the subject ``mask`` (bool or float in [0, 1]); return its alpha."""

    @abstractmethod
    def step(self, frame: np.ndarray) -> np.ndarray:
        """Alpha of the next frame in feeding order."""

    def correct(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """A person corrected the subject on this frame: restart tracking from ``mask``."""
        return self.start(frame, mask)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release memory (model state, caches)."""
