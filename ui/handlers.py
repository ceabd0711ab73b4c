"""Event handlers of the studio's browser UI. They translate clicks and widgets into calls of
``ui.compute`` (mask preview, background preview, the job) and back into component values.

No logic a CLI also needs lives here: validation of prompts, engines, limits and media belongs to
core/ and runs inside those calls. What is here is UI work: mapping a click on the shown (maybe
downscaled) frame to source pixels, the undo history, which outputs to show, progress text.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import numpy as np

from app_config import Settings
from core.exceptions import NoPromptError, StudioError
from core.image_io import save_png
from core.job import EdgeOptions, JobRequest, check_limits
from models.base import NEGATIVE, POSITIVE
from ui import compute, specs
from ui import state as st
from ui.errors import coded_errors

logger = logging.getLogger(__name__)

DISPLAY_MAX_SIDE = 1280  # the frame is shown at most this big: sharp on screen, light to send
# Small pictures are enlarged on the server: Gradio maps a click on an <img> the browser enlarged
# as if it were shown at its natural size, so clicks on an upscaled picture would land elsewhere.
DISPLAY_MIN_SIDE = 960


def display(rgb: np.ndarray, pixel_aspect: float = 1.0) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize a frame for the browser, as wide as it is shown (an anamorphic clip's stored pixels
    are ``pixel_aspect`` times as wide as tall); returns the image and the displayed/source scale
    (x, y), by which a click on it is put back in source pixels."""
    h, w = rgb.shape[:2]
    side = max(h, w * pixel_aspect)
    scale = DISPLAY_MAX_SIDE / side if side > DISPLAY_MAX_SIDE else max(1.0, DISPLAY_MIN_SIDE / side)
    scales = (scale * pixel_aspect, scale)
    if scales == (1.0, 1.0):
        return rgb, scales
    size = (max(1, round(w * scales[0])), max(1, round(h * scales[1])))
    interpolation = cv2.INTER_AREA if max(scales) < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, size, interpolation=interpolation), scales


def media_dict(info: Any) -> dict[str, Any]:
    return dataclasses.asdict(info) if dataclasses.is_dataclass(info) else dict(vars(info))


def describe_media(name: str, info: dict[str, Any]) -> str:
    if info["kind"] == "photo":
        return f"**{name}** · photo {info['width']}×{info['height']}"
    audio = "with sound" if info.get("has_audio") else "no sound"
    aspect = float(info.get("pixel_aspect", 1.0))
    shown = f" (shown {round(info['width'] * aspect)}×{info['height']})" if aspect != 1.0 else ""
    return (f"**{name}** · {info['width']}×{info['height']}{shown} · {info['frame_count']} frames · "
            f"{info['fps']:.3g} fps · {info['duration_s']:.1f} s · {audio}")


def edges_of(feather: float, choke: float, despill: float, wrap: float) -> EdgeOptions:
    return EdgeOptions(feather_px=float(feather or 0), choke_px=float(choke or 0),
                       despill=float(despill or 0), light_wrap=float(wrap or 0))


def progress_text(update: Any) -> str:
    parts = [update.stage]
    if update.total:
        parts.append(f"frame {update.frame}/{update.total}")
    if update.fps:
        parts.append(f"{update.fps:.1f} fps")
    if update.eta_s is not None:
        parts.append(f"ETA {update.eta_s:.0f} s")
    return " · ".join(parts)


def device_markdown(settings: Settings) -> str:
    """The device and memory panel's text (core.device_manager, core.memory_manager)."""
    from core import device_manager, memory_manager

    dev = device_manager.describe(settings.device)
    mem = memory_manager.snapshot()
    gpu = f" · {dev['gpu']} ({dev.get('gpu_memory_mb', 0) / 1024:.0f} GiB)" if dev.get("gpu") else ""
    torch_mem = "".join(f" · {k.replace('_', ' ')} {v:.0f} MB" for k, v in mem.items() if k.startswith("torch"))
    note = f"\n\n{dev['note']}" if dev.get("note") else ""
    return (f"**Device** {dev['device']} · {dev['dtype']}{gpu}  \n"
            f"**Memory** process {mem['rss_mb']:.0f} MB · free {mem['available_mb'] / 1024:.1f} GiB"
            f"{torch_mem}{note}")


class Handlers:
    """The handlers, bound to the studio's settings (one instance per ``build_demo``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- helpers ---------------------------------------------------------------------
    def _session(self, state: st.SessionState, request: gr.Request | None) -> str:
        session = getattr(request, "session_hash", None) or state.session
        if not session:
            raise gr.Error("error E900: no session — reload the page")
        state.session = session
        return session

    def _frame_view(self, state: st.SessionState, session: str, engine: str,
                    quality: str) -> tuple[Any, str, str]:
        """The shown frame: with the current frame's masks when it has clicks. Returns (image, engine
        line, the preview's note or ""): the note goes in the status line too, where it is seen."""
        from core.preview import read_frame

        objects = state.objects_on(state.frame_index)
        engine_line, notice = gr.skip(), ""
        if objects:
            result = compute.preview_mask(session, state.media_path, state.frame_index, objects,
                                          engine, quality, self.settings, state.job_prompts())
            state.alpha, state.alpha_frame = result.alpha, state.frame_index
            image = result.overlay
            engine_line = f"**Engine:** {result.engine} — {result.reason}"
            if result.notice:
                notice = f"**Note:** {result.notice}"
                engine_line += f"\n\n{notice}"
        else:
            image = read_frame(state.media_path, state.frame_index)
            if state.alpha_frame == state.frame_index:
                state.alpha, state.alpha_frame = None, None
        image, state.display_scale = display(image, state.pixel_aspect)
        if state.box_anchor is not None:
            x, y = (round(v * s) for v, s in zip(state.box_anchor, state.display_scale, strict=True))
            image = cv2.drawMarker(image.copy(), (x, y), (255, 255, 0), cv2.MARKER_CROSS, 24, 2)
        return gr.update(value=image, label=frame_label(state)), engine_line, notice

    def _status(self, state: st.SessionState, extra: str = "") -> str:
        if not state.media_path:
            return "**①** Load a video or a photo (upload, or pick an example)."
        clicks = state.click_count()
        frames = sorted(f for f in state.prompts if state.objects_on(f))
        where = f" on frame{'s' if len(frames) > 1 else ''} {', '.join(map(str, frames))}" if frames else ""
        step = ("**②** Click on the subject in the frame." if not clicks else
                f"{clicks} prompt{'s' if clicks != 1 else ''}{where}. A part missing? Click on it (a click "
                f"adds and keeps what is shown); too much? Switch to *{st.MODE_NOT_SUBJECT}* and click on "
                "it. Then pick a background and **③ Process**.")
        return f"{step} {extra}".strip()

    def _require_media(self, state: st.SessionState) -> None:
        if not state.media_path:
            raise NoPromptError("no video or photo loaded yet", "upload a clip first, or pick an example")

    # --- ① media and frame -----------------------------------------------------------
    @coded_errors
    def load_media(self, path: str | None, state: st.SessionState, request: gr.Request):
        """A file was uploaded or an example picked: show its first frame, reset the clicks."""
        from core.preview import media_info, read_frame

        self._session(state, request)
        if not path:
            state.load(None, None)  # type: ignore[arg-type]
            return (state, None, gr.update(maximum=1, value=0, visible=False), self._status(state),
                    gr.update(visible=True), gr.update(visible=False), gr.update(visible=False))
        info = media_dict(media_info(path))
        check_limits(info["kind"], int(info["width"]), int(info["height"]), 0.0, self.settings)  # size only:
        state.load(path, info)  # a long clip may still be trimmed to a part within the duration limit
        image, state.display_scale = display(read_frame(path, 0), state.pixel_aspect)
        is_video = info["kind"] == "video"
        last = max(0, int(info["frame_count"]) - 1)
        slider = gr.update(maximum=max(1, last), value=0, visible=is_video and last > 0, interactive=last > 0)
        status = describe_media(Path(path).name, info) + "  \n" + self._status(state)
        if is_video and float(info["duration_s"]) > self.settings.max_duration_s:
            status += (f"  \n**Note:** a job takes at most {self.settings.max_duration_s:g} s of a clip: set "
                       "Trim start / Trim end (③, options) to the part to process.")
        return (state, image, slider, status, gr.update(visible=is_video), gr.update(visible=not is_video),
                gr.update(visible=is_video and last > 0))

    @coded_errors
    def show_frame(self, index: float, state: st.SessionState, engine: str, quality: str, request: gr.Request):
        """The frame slider moved: show that frame (with its own clicks, if any)."""
        session = self._session(state, request)
        if not state.media_path:
            return state, gr.skip(), gr.skip(), self._status(state)
        state.frame_index = int(index or 0)
        state.box_anchor = None
        image, engine_line, notice = self._frame_view(state, session, engine, quality)
        return state, image, engine_line, self._status(state, notice)

    # --- ② clicks ---------------------------------------------------------------------
    @coded_errors
    def click(self, state: st.SessionState, mode: str, subject: int, engine: str, quality: str,
              evt: gr.SelectData, request: gr.Request):
        """A click on the frame: add a point (or a box corner) and show the new mask at once."""
        session = self._session(state, request)
        self._require_media(state)
        x, y = (float(v) / s for v, s in zip(evt.index[:2], state.display_scale, strict=True))
        subject = int(subject or 1)
        if mode == st.MODE_BOX:
            if state.box_anchor is None:
                state.box_anchor = (x, y)
                image, _, _ = self._frame_view(state, session, engine, quality)
                return state, image, gr.skip(), self._status(state, "Now click the opposite corner of the box.")
            state.set_box(state.frame_index, subject, (*state.box_anchor, x, y))
            state.box_anchor = None
        else:
            label = NEGATIVE if mode == st.MODE_NOT_SUBJECT else POSITIVE
            state.add_point(state.frame_index, subject, x, y, label)
        image, engine_line, notice = self._frame_view(state, session, engine, quality)
        return state, image, engine_line, self._status(state, notice)

    @coded_errors
    def undo(self, state: st.SessionState, engine: str, quality: str, request: gr.Request):
        session = self._session(state, request)
        if not state.media_path:
            return state, gr.skip(), gr.skip(), self._status(state)
        note = "" if state.undo() else "Nothing to undo."
        image, engine_line, notice = self._frame_view(state, session, engine, quality)
        return state, image, engine_line, self._status(state, f"{note} {notice}".strip())

    @coded_errors
    def clear(self, state: st.SessionState, engine: str, quality: str, request: gr.Request):
        session = self._session(state, request)
        if not state.media_path:
            return state, gr.skip(), gr.skip(), self._status(state)
        state.clear(state.frame_index)
        image, engine_line, notice = self._frame_view(state, session, engine, quality)
        return state, image, engine_line, self._status(state, f"Cleared this frame's clicks. {notice}".strip())

    @coded_errors
    def show_matte(self, state: st.SessionState, engine: str, quality: str, request: gr.Request):
        """'Matte here': the frame on screen with the matte the job carries to it from the earlier
        frames' clicks, each subject as opaque as it is there (where it is pale, click to correct)."""
        session = self._session(state, request)
        self._require_media(state)
        result = compute.matte_here(session, state.media_path, state.frame_index, state.job_prompts(), engine,
                                    quality, self.settings)
        state.alpha, state.alpha_frame = result.alpha, state.frame_index
        image, state.display_scale = display(result.overlay, state.pixel_aspect)
        return (state, gr.update(value=image, label=f"Frame {state.frame_index}: the matte the job carries here"),
                self._status(state, f"**Note:** {result.notice}"))

    def add_subject(self, state: st.SessionState):
        new_id = state.add_subject()
        return state, subject_choices(state, new_id)

    # --- background --------------------------------------------------------------------
    @coded_errors
    def background_preview(self, state: st.SessionState, kind: str, color: str, blur: float, image: str | None,
                           video: str | None, procedural: str, feather: float, choke: float, despill: float,
                           wrap: float, engine: str, quality: str, request: gr.Request):
        """Composite of the shown frame over the chosen background, before processing."""
        session = self._session(state, request)
        if not state.media_path or state.alpha is None or state.alpha_frame is None:
            return None
        try:
            spec = specs.ui_background(kind, color, blur, image, video, procedural, state.generated_background)
        except StudioError:  # the tab has no picture/video/prompt yet: keep the last preview, no alarm
            return gr.skip()
        rgb = compute.compose_preview(session, state.media_path, state.alpha_frame, state.alpha, spec,
                                      edges_of(feather, choke, despill, wrap), engine, quality, self.settings)
        return display(rgb, state.pixel_aspect)[0]

    @coded_errors
    def generate_background(self, state: st.SessionState, prompt: str, seed: float, request: gr.Request,
                            progress: gr.Progress = gr.Progress()):  # noqa: B008 - Gradio's own idiom
        """Text-to-image background (models.bg_generator), saved in the session's folder."""
        from core.exceptions import BackgroundNotAvailableError, BackgroundSpecError

        session = self._session(state, request)
        if not (prompt or "").strip():
            raise BackgroundSpecError("the prompt is empty", "describe the background, e.g. 'a sunny beach'")
        try:
            from models.bg_generator import generate_background_image
        except ImportError as exc:
            raise BackgroundNotAvailableError(f"generated backgrounds are not installed ({exc})") from exc
        info = state.info or {"width": 768, "height": 432}
        rgb, meta = generate_background_image(
            prompt.strip(), int(seed or 0), int(info["width"]), int(info["height"]), settings=self.settings,
            progress=lambda f, msg="": progress(f, desc=msg or "generating"))
        out = st.resources(session, self.settings).folder / f"generated-{int(seed or 0)}.png"
        save_png(out, rgb)
        state.generated_background = str(out)
        notice = f"**{meta.get('model', 'model')}** · seed {meta.get('seed', seed)}"
        if meta.get("cached"):
            notice += " · from cache"
        if meta.get("notice"):
            notice += f"  \n{meta['notice']}"
        return state, display(rgb, state.pixel_aspect)[0], notice

    # --- ③ process ---------------------------------------------------------------------
    @coded_errors
    def process(self, state: st.SessionState, kind: str, color: str, blur: float, image: str | None,
                video: str | None, procedural: str, feather: float, choke: float, despill: float, wrap: float,
                engine: str, quality: str, formats: list[str], trim_start: float, trim_end: float,
                keep_audio: bool, seed: float, request: gr.Request,
                progress: gr.Progress = gr.Progress()):  # noqa: B008 - Gradio's own idiom
        """Run the whole job for this session, with live progress; cancel stops it between chunks."""
        session = self._session(state, request)
        self._require_media(state)
        prompts = state.job_prompts()
        if not prompts:
            raise NoPromptError("no subject marked yet", "click on the subject in the frame first")
        spec = specs.ui_background(kind, color, blur, image, video, procedural, state.generated_background)
        res = st.resources(session, self.settings)
        res.cancel = threading.Event()
        job = JobRequest(
            input_path=Path(state.media_path), out_dir=st.new_job_folder(session, self.settings),
            prompts=prompts, background=spec, engine=engine, quality=quality,
            formats=tuple(formats or ("composite.mp4",)), keep_audio=bool(keep_audio),
            trim_start_s=float(trim_start) if trim_start else None,
            trim_end_s=float(trim_end) if trim_end else None,
            edges=edges_of(feather, choke, despill, wrap), seed=int(seed or 0),
        )
        progress(0.0, desc="starting")
        result = compute.run_job(job, lambda u: progress(u.fraction, desc=progress_text(u)), res.cancel,
                                 self.settings)
        return job_outputs(result, state.is_photo) + (job_summary(result.report), device_markdown(self.settings))

    def cancel(self, state: st.SessionState, request: gr.Request) -> str:
        """Ask this session's running job to stop; it does so between chunks and removes its files."""
        session = getattr(request, "session_hash", None) or state.session
        if session:
            st.resources(session, self.settings).cancel.set()
        return "Cancelling… the job stops after the current chunk and leaves nothing behind."

    def device_panel(self) -> str:
        return device_markdown(self.settings)

    def unload(self, request: gr.Request) -> None:
        """The tab was closed or reloaded: drop this session's models, job and files."""
        if request is not None and request.session_hash:
            st.end_session(request.session_hash)


def frame_label(state: st.SessionState) -> str:
    """What a click on the frame shown does: mark the subject, or correct its matte from there."""
    prompted = state.job_prompts()
    if state.is_photo:
        return "Photo: click on the subject"
    if prompted and state.frame_index > min(prompted):
        return f"Frame {state.frame_index}: a click corrects the subject's matte from here on"
    return f"Prompt frame {state.frame_index}: click on the subject"


def subject_choices(state: st.SessionState, selected: int) -> dict:
    choices = [(f"Subject {i}", i) for i in state.subjects]
    return gr.update(choices=choices, value=selected)


def job_outputs(result: Any, is_photo: bool) -> tuple:
    """(composite video, alpha video, composite photo, downloads, report) for the results panel."""
    out = result.outputs
    files = [str(p) for name, p in sorted(out.items()) if Path(p).is_file()]
    composite_photo = out.get("composite.png") or out.get("cutout.png") if is_photo else None
    return (
        str(out["composite.mp4"]) if "composite.mp4" in out and not is_photo else None,
        str(out["alpha.mp4"]) if "alpha.mp4" in out and not is_photo else None,
        str(composite_photo) if composite_photo else None,
        files,
        result.report,
    )


def job_summary(report: dict) -> str:
    """One line under the Process button: time, speed, engine, and any warnings."""
    seconds = report.get("seconds") or {}
    total = seconds.get("total")
    fps = report.get("processing_fps")
    bits = [f"Done in {total:.1f} s" if total else "Done"]
    if report.get("frames"):
        bits.append(f"{report['frames']} frames")
    if fps:
        bits.append(f"{fps:.1f} fps")
    if report.get("engine"):
        bits.append(f"engine {report['engine']} ({report.get('engine_reason', '')})")
    if report.get("peak_rss_mb"):
        bits.append(f"peak {report['peak_rss_mb']:.0f} MB")
    return " · ".join(bits) + "".join(f"  \n⚠ {w}" for w in report.get("warnings") or [])
