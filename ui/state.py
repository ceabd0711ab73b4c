"""Per-session state: one person's clicks, files and results, never visible to another.

Two halves, both keyed by the Gradio session hash (one per browser tab, one per gradio_client):

- ``SessionState`` is plain data kept in a ``gr.State``: the loaded media, the clicks per frame
  and subject, the undo history, the last preview alpha. Gradio keeps one copy per session.
- ``SessionResources`` holds what must not be copied or pickled and must be reachable from a
  *second* event while the first still runs: the cancel ``Event`` of the running job and the
  ``MaskSession`` (a model's cached image embedding). They live in a process-wide registry and
  are dropped, together with the session's folder of job outputs, when the session ends
  (``demo.unload`` and the state's ``delete_callback``).
"""

from __future__ import annotations

import copy
import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app_config import Settings
from models.base import ObjectPrompt

logger = logging.getLogger(__name__)

#: Colours of subjects 1, 2, ... as shown in the subject picker (the overlay uses the same order).
SUBJECT_COLOURS = ("#3b82f6", "#f97316", "#22c55e", "#e11d48", "#a855f7", "#eab308")
MODE_SUBJECT = "Subject (+)"
MODE_NOT_SUBJECT = "Not subject (−)"
MODE_BOX = "Box (2 clicks)"
MODES = (MODE_SUBJECT, MODE_NOT_SUBJECT, MODE_BOX)
MAX_UNDO = 50


@dataclass
class SessionState:
    """Everything the studio remembers about one person's work; copied, never shared."""

    session: str = ""
    media_path: str | None = None
    info: dict[str, Any] | None = None  # MediaInfo as a dict: kind, width, height, frame_count, fps...
    frame_index: int = 0
    #: frame -> subject id -> that subject's clicks/box on that frame
    prompts: dict[int, dict[int, ObjectPrompt]] = field(default_factory=dict)
    subjects: list[int] = field(default_factory=lambda: [1])
    box_anchor: tuple[float, float] | None = None  # first corner of a box being drawn
    history: list[dict[int, dict[int, ObjectPrompt]]] = field(default_factory=list)
    alpha: np.ndarray | None = None  # alpha of the last preview, for the background preview
    alpha_frame: int | None = None
    display_scale: tuple[float, float] = (1.0, 1.0)  # displayed frame px / source px, (x, y)
    generated_background: str | None = None  # path of a generated background image in the session folder

    # --- media -----------------------------------------------------------------------
    @property
    def is_photo(self) -> bool:
        return bool(self.info) and self.info.get("kind") == "photo"

    @property
    def pixel_aspect(self) -> float:
        """The width a stored pixel is shown at (1 but for anamorphic clips)."""
        return float((self.info or {}).get("pixel_aspect", 1.0))

    def load(self, path: str, info: dict[str, Any]) -> None:
        """A new clip or photo: forget every click made on the previous one."""
        self.media_path = path
        self.info = info
        self.frame_index = 0
        self.prompts = {}
        self.subjects = [1]
        self.box_anchor = None
        self.history = []
        self.alpha = None
        self.alpha_frame = None

    # --- clicks ----------------------------------------------------------------------
    def _snapshot(self) -> None:
        self.history.append(copy.deepcopy(self.prompts))
        del self.history[:-MAX_UNDO]

    def prompt_for(self, frame: int, subject: int) -> ObjectPrompt:
        if subject not in self.subjects:
            self.subjects.append(subject)
        return self.prompts.setdefault(frame, {}).setdefault(subject, ObjectPrompt(object_id=subject))

    def add_point(self, frame: int, subject: int, x: float, y: float, label: int) -> None:
        self._snapshot()
        prompt = self.prompt_for(frame, subject)
        prompt.points.append((float(x), float(y)))
        prompt.labels.append(int(label))

    def set_box(self, frame: int, subject: int, box: tuple[float, float, float, float]) -> None:
        self._snapshot()
        x0, y0, x1, y1 = box
        self.prompt_for(frame, subject).box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def undo(self) -> bool:
        """Go back one click; False when there is nothing to undo."""
        self.box_anchor = None
        if not self.history:
            return False
        self.prompts = self.history.pop()
        return True

    def clear(self, frame: int | None = None) -> None:
        """Remove the clicks of one frame (or of every frame)."""
        self._snapshot()
        self.box_anchor = None
        if frame is None:
            self.prompts = {}
        else:
            self.prompts.pop(frame, None)

    def add_subject(self) -> int:
        new_id = max(self.subjects) + 1
        self.subjects.append(new_id)
        return new_id

    def objects_on(self, frame: int) -> list[ObjectPrompt]:
        """The non-empty prompts of one frame, in subject order."""
        on_frame = self.prompts.get(frame, {})
        return [on_frame[k] for k in sorted(on_frame) if not on_frame[k].is_empty()]

    def job_prompts(self) -> dict[int, list[ObjectPrompt]]:
        """Every prompted frame, as ``JobRequest.prompts`` wants them (lowest frame = prompt frame)."""
        return {f: objs for f in sorted(self.prompts) if (objs := self.objects_on(f))}

    def click_count(self) -> int:
        return sum(len(p.points) + (p.box is not None) for objs in self.prompts.values() for p in objs.values())


@dataclass
class SessionResources:
    """What one session holds outside ``gr.State``: not copyable, shared between its events."""

    folder: Path
    cancel: threading.Event = field(default_factory=threading.Event)
    mask_session: Any = None  # core.preview.MaskSession, created on the first click
    mask_key: tuple[str, str] | None = None  # (engine, quality) the mask session was made with
    lock: threading.Lock = field(default_factory=threading.Lock)


_REGISTRY: dict[str, SessionResources] = {}
_REGISTRY_LOCK = threading.Lock()


def sessions_root(settings: Settings) -> Path:
    return Path(settings.work_dir) / "studio-sessions"


def resources(session: str, settings: Settings) -> SessionResources:
    """The resources of ``session``, created on first use (with its own output folder)."""
    if not session:
        raise ValueError("a session hash is required")
    with _REGISTRY_LOCK:
        res = _REGISTRY.get(session)
        if res is None:
            folder = sessions_root(settings) / _safe_name(session)
            folder.mkdir(parents=True, exist_ok=True)
            res = _REGISTRY[session] = SessionResources(folder=folder)
        return res


def active_sessions() -> list[str]:
    with _REGISTRY_LOCK:
        return list(_REGISTRY)


def new_job_folder(session: str, settings: Settings) -> Path:
    """A fresh folder for one job's outputs, inside the session's folder."""
    folder = resources(session, settings).folder / f"job-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


def end_session(session: str) -> None:
    """Drop a session's model state, cancel its job and delete its folder (the tab was closed)."""
    with _REGISTRY_LOCK:
        res = _REGISTRY.pop(session, None)
    if res is None:
        return
    res.cancel.set()  # a job still running stops at its next chunk
    close = getattr(res.mask_session, "close", None)
    if callable(close):
        close()
    shutil.rmtree(res.folder, ignore_errors=True)
    logger.info("session %s ended: resources and files removed", session[:8])


def sweep_stale(settings: Settings, max_age_s: float) -> int:
    """Delete session folders nobody has touched for ``max_age_s`` (API clients never 'close a tab')."""
    root = sessions_root(settings)
    if not root.is_dir():
        return 0
    removed = 0
    now = time.time()
    live = {(_safe_name(s)) for s in active_sessions()}
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
        if now - newest > max_age_s:
            if folder.name in live:
                end_session(next(s for s in active_sessions() if _safe_name(s) == folder.name))
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _safe_name(session: str) -> str:
    return "".join(c for c in session if c.isalnum() or c in "-_")[:64] or "anon"
