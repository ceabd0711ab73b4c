"""Turning what a person picked (or what a script sent) into the pipeline's own terms.

Backgrounds become spec strings (``color:#RRGGBB``, ``blur:25``, ``image:PATH``...), clicks sent
as JSON become ``ObjectPrompt``s. A path that reaches a spec is always one the server itself
made (an upload in Gradio's cache, a generated image, an example in assets/): a client may
not name a file on the server, or it could read any file the studio can.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from core.exceptions import BackgroundSpecError, InputPathError, PromptError
from core.prompts import read_mask_file
from models.base import NEGATIVE, POSITIVE, ObjectPrompt

logger = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
BACKGROUND_KINDS = ("color", "blur", "image", "video", "transparent", "prompt", "procedural")
PROCEDURALS = ("gradient", "bokeh", "studio")
_RGBA = re.compile(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)")


def color_hex(value: str | None) -> str:
    """A colour picker's value ('#aabbcc', '#abc' or 'rgba(r, g, b, a)') as '#RRGGBB'."""
    text = (value or "").strip()
    match = _RGBA.match(text)
    if match:
        r, g, b = (max(0, min(255, round(float(v)))) for v in match.groups())
        return f"#{r:02x}{g:02x}{b:02x}"
    if re.fullmatch(r"#?[0-9a-fA-F]{6}", text):
        return "#" + text.lstrip("#").lower()
    if re.fullmatch(r"#?[0-9a-fA-F]{3}", text):
        return "#" + "".join(c * 2 for c in text.lstrip("#")).lower()
    raise BackgroundSpecError(f"not a colour: {value!r}", "pick a colour, or give #RRGGBB")


def ui_background(kind: str, color: str | None, blur: float, image: str | None, video: str | None,
                  procedural: str | None, generated: str | None) -> str:
    """The spec for the background panel's current tab. Paths here come from uploads only."""
    if kind == "color":
        return f"color:{color_hex(color)}"
    if kind == "blur":
        return f"blur:{max(1, round(float(blur or 25)))}"
    if kind == "image":
        if not image:
            raise BackgroundSpecError("no background image yet", "upload an image or click an example")
        return f"image:{image}"
    if kind == "video":
        if not video:
            raise BackgroundSpecError("no background video yet", "upload a video for the background")
        return f"video:{video}"
    if kind == "transparent":
        return "transparent"
    if kind == "procedural":
        return f"procedural:{procedural if procedural in PROCEDURALS else 'gradient'}"
    if kind == "prompt":
        if not generated:
            raise BackgroundSpecError("no generated background yet", "type a prompt and press Generate")
        return f"image:{generated}"
    raise BackgroundSpecError(f"unknown background kind {kind!r}")


def api_background(spec: str, upload: str | None) -> str:
    """Check a client's background spec. ``image``/``video`` take the uploaded ``background_file``;
    an explicit path is only accepted for the bundled examples under assets/."""
    text = (spec or "").strip()
    kind, _, arg = text.partition(":")
    kind = kind.lower()
    if kind not in BACKGROUND_KINDS:
        raise BackgroundSpecError(f"unknown background {text!r}")
    if kind in ("image", "video"):
        if upload and arg in ("", "upload"):
            return f"{kind}:{upload}"
        if not arg:
            raise BackgroundSpecError(f"background {kind!r} needs a file", "send it as background_file")
        candidate = (ASSETS / arg).resolve() if not Path(arg).is_absolute() else Path(arg).resolve()
        if not candidate.is_relative_to(ASSETS) or not candidate.is_file():
            raise InputPathError(
                f"background path {arg!r} is not one of the studio's examples",
                "send your own background as background_file (paths on the server are not accepted)",
            )
        return f"{kind}:{candidate}"
    if kind == "color":
        return f"color:{color_hex(arg)}"
    return text


def parse_prompts(text: str | None, default_frame: int) -> dict[int, list[ObjectPrompt]]:
    """Clicks/boxes as JSON -> ``{frame: [ObjectPrompt, ...]}``.

    Accepted: one subject ``{"points": [[x, y], ...], "labels": [1, 0], "box": [x0, y0, x1, y1]}``,
    a list of subjects (each may carry ``"object_id"`` and ``"frame"``), or ``{"FRAME": [subjects]}``.
    Labels default to 1 (subject); 0 marks "not subject".
    """
    if text is None or not str(text).strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(f"prompts are not valid JSON ({exc.msg})", _PROMPT_HINT) from None
    if isinstance(data, dict) and data and all(str(k).lstrip("-").isdigit() for k in data):
        items = [(int(k), v) for k, v in data.items()]
    else:
        items = [(None, data)]
    result: dict[int, list[ObjectPrompt]] = {}
    for frame, subjects in items:
        subjects = subjects if isinstance(subjects, list) else [subjects]
        for i, item in enumerate(subjects):
            obj_frame, prompt = _object(item, i + 1)
            where = frame if frame is not None else (obj_frame if obj_frame is not None else default_frame)
            result.setdefault(int(where), []).append(prompt)
    return result


_PROMPT_HINT = 'e.g. {"points": [[120, 80]], "labels": [1]} or {"box": [10, 10, 200, 300]}'


def _object(item: Any, default_id: int) -> tuple[int | None, ObjectPrompt]:
    if not isinstance(item, dict):
        raise PromptError(f"a subject must be a JSON object, got {type(item).__name__}", _PROMPT_HINT)
    try:
        points = [(float(p[0]), float(p[1])) for p in item.get("points") or []]
        labels = [int(v) for v in item.get("labels") or [POSITIVE] * len(points)]
        box = item.get("box")
        box_t = tuple(float(v) for v in box) if box is not None else None
        obj_id = int(item.get("object_id", default_id))
        frame = item.get("frame")
        frame = int(frame) if frame is not None else None
    except (TypeError, ValueError, IndexError) as exc:
        raise PromptError(f"malformed subject prompt ({exc})", _PROMPT_HINT) from None
    if len(labels) != len(points) or any(v not in (POSITIVE, NEGATIVE) for v in labels):
        raise PromptError("labels must be 1 (subject) or 0 (not subject), one per point", _PROMPT_HINT)
    if box_t is not None and len(box_t) != 4:
        raise PromptError("a box is [x0, y0, x1, y1]", _PROMPT_HINT)
    return frame, ObjectPrompt(object_id=obj_id, points=points, labels=labels, box=box_t)  # type: ignore[arg-type]


def read_mask(path: str | None) -> np.ndarray | None:
    """An uploaded mask picture as bool (H, W), read as the command line reads ``--mask``; its size is
    checked with the clicks (core.prompts.validate_prompts)."""
    return read_mask_file(str(path)) if path else None
