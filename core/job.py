"""What a job is: the request every front end builds and the result it gets back.

The CLI (app.py process), the studio (ui/) and the API endpoints all build a ``JobRequest`` and
call ``core.video_processor.run_job``; nothing else touches engines or media.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app_config import DEFAULT_FORMATS
from models.base import ObjectPrompt


@dataclass
class EdgeOptions:
    """Finishing of the matte edge and the composite (all off = the engine's alpha as is)."""

    feather_px: float = 0.0  # soften the alpha edge (Gaussian sigma in px)
    choke_px: float = 0.0  # shrink (>0) or grow (<0) the matte
    despill: float = 0.0  # 0..1, remove the old background's colour cast from edges
    light_wrap: float = 0.0  # 0..1, let the new background's light wrap around the subject


@dataclass
class JobRequest:
    """One background-replacement job. Coordinates are source pixels of the prompt frame.

    ``prompts`` maps a frame index to the subjects prompted on that frame; the lowest index is
    the prompt frame (frames before it are matted backwards), later ones are corrections.
    """

    input_path: Path
    out_dir: Path
    prompts: dict[int, list[ObjectPrompt]] = field(default_factory=dict)
    background: str = "blur:25"
    engine: str = "auto"
    quality: str = "balanced"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    matte_frames: bool = False
    keep_audio: bool = True
    trim_start_s: float | None = None
    trim_end_s: float | None = None
    edges: EdgeOptions = field(default_factory=EdgeOptions)
    seed: int | None = None  # for generated backgrounds


@dataclass
class JobResult:
    """Paths of the files written (by output name, e.g. "composite.mp4") and the report dict."""

    out_dir: Path
    outputs: dict[str, Path]
    report: dict
