"""The named API endpoints: what a script calls with gradio_client, without the UI.

A click in the browser arrives as ``gr.SelectData``, which a client cannot send, so the UI's
click events are private and these endpoints take the clicks explicitly (JSON, see
``ui.specs.parse_prompts``). Each endpoint is a plain function of plain values, wired to hidden
components in ``ui.studio`` under ``/preview_mask``, ``/replace_background``, ``/cutout_image`` and
``/generate_background``.
Files a client sends arrive as uploads in Gradio's cache; outputs are written to a fresh
per-job folder of the caller's session, never to (or from) a path the client names.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from app_config import OUTPUT_FORMATS, Settings
from core.compositing import alpha_to_u8
from core.exceptions import FrameOutOfRangeError, InputPathError, NoPromptError
from core.job import JobRequest
from models.base import ObjectPrompt
from ui import compute, specs
from ui import state as st
from ui.errors import coded_errors
from ui.handlers import edges_of, media_dict

logger = logging.getLogger(__name__)

#: Session folders (job outputs) untouched for this long are deleted: API clients close no tab.
STALE_SESSION_S = 2 * 3600


class StudioAPI:
    """The endpoint functions, bound to the studio's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _session(self, request: gr.Request | None) -> str:
        session = getattr(request, "session_hash", None)
        if not session:
            raise InputPathError("no session", "call the endpoint through gradio_client or the browser")
        return session

    def _media(self, path: str | None) -> tuple[str, dict[str, Any]]:
        from core.preview import media_info

        if not path:
            raise InputPathError("no file was sent", "send the video or photo with handle_file(...)")
        return str(path), media_dict(media_info(path))

    def _prompts(self, text: str, frame: int, mask_path: str | None, info: dict[str, Any]):
        from core.prompts import validate_prompts

        prompts = specs.parse_prompts(text, frame)
        mask = specs.read_mask(mask_path)
        if mask is not None:
            prompts.setdefault(frame, []).append(ObjectPrompt(object_id=99, mask=mask))
        validate_prompts(prompts, int(info["width"]), int(info["height"]), 0, max(1, int(info["frame_count"])))
        return prompts

    # --- /preview_mask -----------------------------------------------------------------
    @coded_errors
    def preview_mask(self, media: str | None, frame_index: float, prompts: str, mask: str | None,
                     engine: str, quality: str, request: gr.Request):
        """Mask of the prompted subjects on one frame: (overlay RGB, alpha as grey, info). A frame with
        no prompts of its own but prompts before it: the matte a job carries there (soft)."""
        session = self._session(request)
        path, info = self._media(media)
        frame = int(frame_index or 0)
        if not 0 <= frame < max(1, int(info["frame_count"])):
            raise FrameOutOfRangeError(f"frame {frame} is outside the clip (0..{int(info['frame_count']) - 1})")
        by_frame = self._prompts(prompts, frame, mask, info)
        objects = by_frame.get(frame)
        if objects:
            result = compute.preview_mask(session, path, frame, objects, engine or "auto", quality or "balanced",
                                          self.settings, by_frame)
        elif any(f < frame for f in by_frame):  # no clicks here: the matte the job carries here (Matte here)
            result = compute.matte_here(session, path, frame, by_frame, engine or "auto", quality or "balanced",
                                        self.settings)
        else:
            raise NoPromptError(f"no prompt on frame {frame} or before it", "give points/box for frame_index")
        alpha_u8 = alpha_to_u8(result.alpha)
        details = {
            "engine": result.engine,
            "reason": result.reason,
            "frame_index": frame,
            "width": int(info["width"]),
            "height": int(info["height"]),
            "coverage": round(float(result.alpha.mean()), 4),
            "objects": {str(k): int(v.sum()) for k, v in result.masks.items()},
            "warnings": [result.notice] if result.notice else [],
        }
        return result.overlay, alpha_u8, details

    # --- /replace_background -----------------------------------------------------------
    @coded_errors
    def replace_background(self, video: str | None, prompts: str, prompt_frame: float, mask: str | None,
                           background: str, background_file: str | None, engine: str, quality: str,
                           formats: list[str], feather: float, choke: float, despill: float,
                           light_wrap: float, trim_start: float, trim_end: float, keep_audio: bool,
                           seed: float, request: gr.Request,
                           progress: gr.Progress = gr.Progress()):  # noqa: B008 - Gradio's own idiom
        """A whole job: (composite video, alpha video, every output file, report)."""
        result = self._run(video, prompts, prompt_frame, mask, background, background_file, engine, quality,
                           formats, (feather, choke, despill, light_wrap), trim_start, trim_end, keep_audio,
                           seed, request, progress)
        out = result.outputs
        files = [str(p) for _, p in sorted(out.items()) if Path(p).is_file()]
        return (str(out["composite.mp4"]) if "composite.mp4" in out else None,
                str(out["alpha.mp4"]) if "alpha.mp4" in out else None, files, result.report)

    # --- /cutout_image -------------------------------------------------------------------
    @coded_errors
    def cutout_image(self, image: str | None, prompts: str, mask: str | None, background: str,
                     background_file: str | None, engine: str, quality: str, feather: float, choke: float,
                     despill: float, light_wrap: float, request: gr.Request):
        """A photo cut out: (PNG with alpha, composited PNG or None, report)."""
        result = self._run(image, prompts, 0, mask, background or "transparent", background_file, engine,
                           quality, ["composite.mp4"], (feather, choke, despill, light_wrap), 0, 0, False, 0,
                           request, None, photo_only=True)
        out = result.outputs
        cutout, comp = out["cutout.png"], out.get("composite.png")
        return str(cutout), (str(comp) if comp else None), result.report

    # --- /generate_background ------------------------------------------------------------
    @coded_errors
    def generate_background(self, prompt: str, seed: float, width: float, height: float,
                            progress: gr.Progress = gr.Progress()):  # noqa: B008 - Gradio's own idiom
        """A background image from a text prompt at width x height: (image, info with model, seed,
        cached, notice). Without weights it is a procedural picture and ``notice`` says why."""
        from core.exceptions import BackgroundSpecError
        from models.bg_generator import generate_background_image

        w, h = int(width or 0), int(height or 0)
        if not (16 <= w <= self.settings.max_side_px and 16 <= h <= self.settings.max_side_px):
            raise BackgroundSpecError(f"size {w}x{h} is out of range",
                                      f"give width and height between 16 and {self.settings.max_side_px}")
        rgb, info = generate_background_image(
            (prompt or "").strip(), int(seed or 0), w, h, settings=self.settings,
            progress=lambda f, msg="": progress(f, desc=msg or "generating"))
        return rgb, {k: v for k, v in info.items() if isinstance(v, str | int | float | bool | None)}

    def _run(self, media, prompts, prompt_frame, mask, background, background_file, engine, quality, formats,
             edges, trim_start, trim_end, keep_audio, seed, request, progress, photo_only: bool = False):
        session = self._session(request)
        st.sweep_stale(self.settings, STALE_SESSION_S)
        path, info = self._media(media)
        if photo_only and info["kind"] != "photo":  # before the job: a clip sent here was matted whole, then refused
            raise InputPathError("this endpoint is for photos", "use /replace_background for a video")
        frame = int(prompt_frame or 0)
        job = JobRequest(
            input_path=Path(path), out_dir=st.new_job_folder(session, self.settings),
            prompts=self._prompts(prompts, frame, mask, info),
            background=specs.api_background(background or "blur:25", background_file),
            engine=engine or "auto", quality=quality or "balanced",
            formats=tuple(formats) if formats else tuple(f for f in OUTPUT_FORMATS if f not in ("foreground.mov", "foreground.webp")),
            keep_audio=bool(keep_audio), trim_start_s=float(trim_start) if trim_start else None,
            trim_end_s=float(trim_end) if trim_end else None, edges=edges_of(*edges), seed=int(seed or 0),
        )
        res = st.resources(session, self.settings)
        res.cancel = threading.Event()
        callback = None
        if progress is not None:
            from ui.handlers import progress_text

            callback = lambda u: progress(u.fraction, desc=progress_text(u))  # noqa: E731
        return compute.run_job(job, callback, res.cancel, self.settings)
