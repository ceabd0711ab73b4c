"""The studio's only doors to the heavy machinery: mask previews, background previews and jobs.

Each door is a module-level function wrapped with ``ui.zerogpu.gpu`` so that, on a ZeroGPU
Space, the GPU is attached just while it runs. Their arguments and results are picklable (paths,
prompts, arrays, dataclasses); the per-session ``MaskSession`` is looked up here by session hash
instead of being passed in. Progress callbacks and the cancel event cannot cross into a ZeroGPU
worker, so there a job runs without live progress and cannot be cancelled midway; everywhere else
they are passed straight to ``run_job``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from app_config import Settings, get_settings
from core.job import EdgeOptions, JobRequest, JobResult
from models.base import ObjectPrompt
from ui import state as st
from ui.zerogpu import gpu, on_zero_gpu

logger = logging.getLogger(__name__)


def mask_session(session: str, engine: str, quality: str, settings: Settings):
    """The session's ``MaskSession`` for (engine, quality), made anew when either changes."""
    from core.preview import MaskSession

    res = st.resources(session, settings)
    with res.lock:
        if res.mask_session is None or res.mask_key != (engine, quality):
            close = getattr(res.mask_session, "close", None)
            if callable(close):
                close()
            res.mask_session = MaskSession(engine=engine, quality=quality, settings=settings)
            res.mask_key = (engine, quality)
        return res.mask_session


@gpu(duration=30)
def preview_mask(session: str, path: str, frame: int, objects: list[ObjectPrompt], engine: str,
                 quality: str, settings: Settings | None = None,
                 earlier: dict[int, list[ObjectPrompt]] | None = None):
    """Mask preview of ``objects`` on one frame (a ``core.preview.PreviewResult``); ``earlier``: the
    prompts of the other frames (a correction here shows the matte carried from them)."""
    settings = settings or get_settings()
    ms = mask_session(session, engine, quality, settings)
    res = st.resources(session, settings)
    with res.lock:  # one click at a time per session: the cached embedding is shared
        return ms.preview(path, frame, objects, earlier)


@gpu(duration=60)
def matte_here(session: str, path: str, frame: int, earlier: dict[int, list[ObjectPrompt]], engine: str,
               quality: str, settings: Settings | None = None):
    """The matte a job carries to ``frame`` from the clicks of the frames before it (a
    ``core.preview.PreviewResult``): where to correct."""
    settings = settings or get_settings()
    ms = mask_session(session, engine, quality, settings)
    res = st.resources(session, settings)
    with res.lock:
        return ms.matte_here(path, frame, earlier)


@gpu(duration=30)
def compose_preview(session: str, path: str, frame: int, alpha: np.ndarray, background: str,
                    edges: EdgeOptions, engine: str, quality: str, settings: Settings | None = None) -> np.ndarray:
    """The prompt frame composited over ``background``, exactly as the job will do it."""
    settings = settings or get_settings()
    ms = mask_session(session, engine, quality, settings)
    return ms.compose(path, frame, alpha, background, edges)


@gpu(duration=600)
def _job_on_gpu(request: JobRequest, settings: Settings) -> JobResult:
    from core.video_processor import run_job

    return run_job(request, None, None, settings)


def run_job(request: JobRequest, progress: Callable | None, cancel: threading.Event | None,
            settings: Settings) -> JobResult:
    """Run one job: in-process with live progress and cancel, or inside a ZeroGPU worker."""
    if on_zero_gpu():
        return _job_on_gpu(request, settings)
    from core.video_processor import run_job as pipeline_run_job

    return pipeline_run_job(request, progress, cancel, settings)
