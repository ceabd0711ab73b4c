"""Background sources by spec: ``kind:argument`` -> a ``BackgroundSource``.

One line per kind; each class lives in its own small file. ``transparent`` has no source: the
transparent outputs are the product.
"""

from __future__ import annotations

from core.exceptions import BackgroundSpecError
from models.backgrounds.base import BackgroundSource, OutputGeometry
from models.registry import load_class

BACKGROUNDS: dict[str, str] = {
    "color": "models.backgrounds.color:ColorBackground",
    "blur": "models.backgrounds.blur:BlurBackground",
    "image": "models.backgrounds.image:ImageBackground",
    "video": "models.backgrounds.video:VideoBackground",
    "prompt": "models.backgrounds.generated:GeneratedBackground",
    "procedural": "models.backgrounds.procedural:ProceduralBackground",
}
ALIASES = {"colour": "color", "generated": "prompt"}

__all__ = ["BACKGROUNDS", "BackgroundSource", "OutputGeometry", "make_background"]


def _guess(text: str) -> str | None:
    """A hint for a spec without its kind: a colour or a file given bare ('#00ff00', 'beach.jpg')."""
    from pathlib import Path

    from core.compositing import parse_color

    if Path(text).expanduser().is_file():
        from core.image_io import is_image_path

        kind = "image" if is_image_path(text) else "video"
        return f"did you mean {kind}:{text}? (a background file is given as image:PATH or video:PATH)"
    try:
        parse_color(text)
    except ValueError:
        return None
    return f"did you mean color:{text}? (a colour is given as color:#RRGGBB or color:NAME)"


def make_background(spec: str, seed: int | None = None) -> BackgroundSource | None:
    """Parse ``spec`` and build its source (``None`` for ``transparent``). Cheap: no file is read
    until ``open``; argument errors are raised here, before any work starts."""
    text = (spec or "").strip()
    if text.lower() == "transparent":
        return None
    kind, sep, argument = text.partition(":")
    kind = ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in BACKGROUNDS:
        raise BackgroundSpecError(f"unknown background {spec!r}", _guess(text))
    if not sep and kind not in ("blur", "procedural"):
        raise BackgroundSpecError(f"background {spec!r} needs an argument after '{kind}:'")
    source = load_class(BACKGROUNDS[kind])(argument)
    source.seed = seed
    return source
