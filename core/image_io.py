"""Reading and writing photos (Pillow): upright RGB or RGBA uint8, coded errors for bad files.

Why Pillow and not OpenCV: Pillow reads the EXIF orientation tag (phones store portrait photos
sideways and set the tag) and reports a too-large image from its header, before decoding it.
"""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.exceptions import LimitExceededError, NotMediaError, OutputNotWritableError, TruncatedMediaError
from core.video_io import check_input_path

logger = logging.getLogger(__name__)

try:  # iPhone photos are HEIC: pillow-heif teaches Pillow to open them (requirements.txt)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - without it a HEIC file is "not an image Pillow can read"
    logger.debug("pillow-heif is not installed: HEIC/HEIF photos cannot be read")

# AVIF and JPEG 2000 too: FFmpeg would also open them, as one-frame videos with video outputs
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".jp2", ".j2k",
                            ".heic", ".heif"})
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")


def is_image_path(path: str | Path) -> bool:
    """True for a photo: by its suffix, or by its first bytes when the suffix says nothing. An
    animated PNG, WebP or GIF is a video (FFmpeg decodes every frame of an animated PNG, and
    core/animated_webp.py those of a WebP; Pillow would give the first)."""
    from core.animated_webp import is_animated_webp

    p = Path(str(path))
    if p.suffix.lower() == ".gif":  # a GIF of one frame is a picture, an animated one a clip
        return animated_frames(p) == 1
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return not ((_looks_like(p, b"\x89PNG") and animated_frames(p) > 1) or is_animated_webp(p))
    if p.suffix or not p.is_file():
        return False
    with p.open("rb") as fh:
        head = fh.read(12)
    is_webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head.startswith(_SIGNATURES) or (is_webp and not is_animated_webp(p))


def _looks_like(p: Path, signature: bytes) -> bool:
    try:
        with p.open("rb") as fh:
            return fh.read(len(signature)) == signature
    except OSError:
        return False


def animated_frames(path: str | Path) -> int:
    """How many frames the image file holds (1 for a still; 0 when Pillow cannot read it)."""
    try:
        with Image.open(path) as img:
            return int(getattr(img, "n_frames", 1))
    except (OSError, SyntaxError, ValueError):
        return 0


def animation_notice(path: str | Path) -> str | None:
    """The report's warning for a picture file of several frames the job treats as one picture (a
    multi-page TIFF; an animated PNG or WebP is a video), else None."""
    frames = animated_frames(path)
    if frames <= 1:
        return None
    return (f"{Path(str(path)).name} holds {frames} pictures: only its first was processed; "
            "to process all of them as a clip, convert it to MP4, WebM or GIF")


def read_image(path: str | Path, keep_alpha: bool = False, max_side_px: int | None = None) -> np.ndarray:
    """The photo upright (EXIF orientation applied) as (H, W, 3) RGB, or (H, W, 4) RGBA with
    ``keep_alpha`` (opaque alpha added when the file has none). 16-bit files are scaled to 8 bits.

    Raises ``InputPathError`` (missing, folder, URL), ``NotMediaError`` (not an image),
    ``TruncatedMediaError`` (cut short) or ``LimitExceededError`` (a side over ``max_side_px``,
    default the settings' ``max_photo_side_px``), checked from the header before decoding. That
    check bounds the memory, so Pillow's own warning from 89 MP (a 108 MP phone picture) is not
    an error; its error from 179 MP still is.
    """
    p = check_input_path(path)
    if max_side_px is None:
        from app_config import get_settings

        max_side_px = get_settings().max_photo_side_px
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                if max(width, height) > max_side_px:
                    raise LimitExceededError(f"{p.name} is {width}x{height}, over the {max_side_px} px limit")
                img.load()
                upright = ImageOps.exif_transpose(img)
                return _to_array(upright, keep_alpha)
    except UnidentifiedImageError:
        raise NotMediaError(f"{p.name} is not an image Pillow can read") from None
    except Image.DecompressionBombError:
        raise LimitExceededError(f"{p.name} has too many pixels to decode safely") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise TruncatedMediaError(f"{p.name} cannot be decoded: {exc}") from None


def _to_array(img: Image.Image, keep_alpha: bool) -> np.ndarray:
    """RGB/RGBA uint8 array from any Pillow mode (palette, grey, 16-bit, CMYK...)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(img, dtype=np.float32)
        peak = 65535.0 if img.mode.startswith("I;16") or grey.max() > 255 else 255.0
        grey8 = np.clip(grey * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
        rgb = np.repeat(grey8[..., None], 3, axis=2)
        return np.dstack([rgb, np.full(grey8.shape, 255, np.uint8)]) if keep_alpha else rgb
    if keep_alpha:  # files without alpha get an opaque one
        return np.asarray(img.convert("RGBA")).copy()
    return np.asarray(img.convert("RGB")).copy()


@dataclass(frozen=True)
class PhotoTags:
    """What a photo's outputs carry on from it: its colour profile and its EXIF."""

    icc_profile: bytes | None = None
    exif: bytes | None = None


def photo_tags(path: str | Path) -> PhotoTags:
    """The photo's RGB colour profile and its EXIF with the orientation upright (the pixels were
    turned as it said), for its outputs.

    Why: a phone's photo is in Display P3 and says so in its profile; written without it, the
    cutout is read as sRGB and its colours come out duller than the photo's. And its EXIF holds
    when it was taken (how photo libraries sort it) and with what. A profile of another kind (a
    CMYK print's, a grey one's) does not fit the RGB pixels written, and is left out."""
    with Image.open(check_input_path(path)) as img:
        icc = img.info.get("icc_profile")
        exif = img.getexif()
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return PhotoTags(icc if icc and icc[16:20] == b"RGB " else None, exif.tobytes() if exif else None)


_ORIENTATION = 0x0112  # EXIF's orientation tag


def save_png(path: str | Path, image: np.ndarray, tags: PhotoTags | None = None) -> Path:
    """Write RGB, RGBA or grey uint8 ``image`` as PNG, atomically (temporary name, then rename)."""
    return save_image(path, image, tags=tags)


def save_image(path: str | Path, image: np.ndarray, quality: int = 95, tags: PhotoTags | None = None) -> Path:
    """Write a PNG (alpha kept), JPEG or WebP by the suffix of ``path``, atomically, with the
    colour profile and EXIF of ``tags``."""
    p = Path(path)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ValueError(f"images are uint8 (H, W[, C]), not {arr.dtype} {arr.shape}")
    img = Image.fromarray(arr)
    if p.suffix.lower() in (".jpg", ".jpeg") and img.mode == "RGBA":
        img = img.convert("RGB")  # JPEG has no alpha
    tmp = p.with_name(f".{p.stem}.{uuid.uuid4().hex[:8]}.part{p.suffix}")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        extra = {} if tags is None else {k: v for k, v in (("icc_profile", tags.icc_profile), ("exif", tags.exif)) if v}
        img.save(tmp, format=Image.registered_extensions().get(p.suffix.lower()), quality=quality, **extra)
        os.replace(tmp, p)
    except (OSError, KeyError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise OutputNotWritableError(f"cannot write {p}: {exc}") from None
    logger.debug("wrote %s %s", p.name, arr.shape)
    return p
