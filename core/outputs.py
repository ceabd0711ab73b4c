"""The files a job writes, written safely: into a hidden staging folder inside --out, moved into
place only when the whole job succeeded, removed on any failure or cancel. A reader of --out never
sees a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

try:
    import fcntl
except ImportError:  # Windows: an abandoned staging folder goes by its age alone
    fcntl = None

from core.compositing import GREEN, alpha_to_u8, composite, solid, to_rgba
from core.exceptions import OutputNotWritableError

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".bgfx-partial-"
#: a staging folder untouched this long belongs to a job that died without cleaning up
ABANDONED_AFTER_S = 24 * 3600
#: the file in a staging folder that its job holds locked while it lives (where the system locks files)
OWNER = ".owner"
#: a staging folder younger than this is never taken for abandoned: its job may not hold its lock yet
LOCK_GRACE_S = 60.0

#: output name -> VideoWriter kind
VIDEO_KINDS = {
    "composite.mp4": "h264",
    "alpha.mp4": "h264_gray",
    "foreground.webm": "vp9_alpha",
    "foreground.mov": "prores4444",
    "greenscreen.mp4": "h264",
    "foreground.webp": "webp_alpha",  # an animated sticker: no sound
}
#: outputs that carry the source's sound (all but the matte: an editor drops a transparent file
#: on its timeline and expects the clip's sound with it, as with any other clip)
WITH_AUDIO = ("composite.mp4", "greenscreen.mp4", "foreground.webm", "foreground.mov")


#: every name a job writes in its folder (video and photo jobs)
RESULT_NAMES = (*VIDEO_KINDS, "alpha", "cutout.png", "composite.png")


class Staging:
    """A private folder inside ``out_dir`` for one job; ``commit`` moves its files into ``out_dir``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._created_out = False
        try:
            if self.out_dir.exists() and not self.out_dir.is_dir():
                raise OutputNotWritableError(f"--out {str(self.out_dir)!r} is a file, not a folder")
            if not self.out_dir.exists():
                self.out_dir.mkdir(parents=True)
                self._created_out = True
            self._remove_abandoned()
            self.path = self.out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
            self.path.mkdir()
            self._owner = self._hold(self.path)
        except OutputNotWritableError:
            raise
        except OSError as exc:
            raise OutputNotWritableError(f"cannot write to {str(self.out_dir)!r}: {exc.strerror or exc}") from None

    @staticmethod
    def _hold(folder: Path):
        """Lock ``folder``'s owner file for as long as this job lives (the open file, or None where
        the system has no ``fcntl``). The system lets go of the lock however the process ends."""
        if fcntl is None:
            return None
        owner = open(folder / OWNER, "w")  # noqa: SIM115 (held open for the job's lifetime)
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:  # a file system without locks (some network and FUSE mounts): by age, then
            logger.debug("no lock on %s (%s): a dead job's folder there goes by its age", folder, exc)
            owner.close()
            (folder / OWNER).unlink()
            return None
        return owner

    def _let_go(self) -> None:
        if self._owner is not None:
            self._owner.close()
            self._owner = None
            with contextlib.suppress(OSError):
                (self.path / OWNER).unlink()

    def _remove_abandoned(self) -> None:
        """Staging folders of jobs that died without cleaning up (SIGKILL, the system out of memory,
        a power cut) are removed: at once when nothing holds their owner's lock any more, else once
        they are a day old. Why at once: a killed 4K job left gigabytes of partial files hidden in
        --out, and the next job into the same folder kept them for a day."""
        now = time.time()
        for old in self.out_dir.glob(f"{STAGING_PREFIX}*"):
            with contextlib.suppress(OSError):
                age = now - old.stat().st_mtime
                if old.is_dir() and (age > ABANDONED_AFTER_S or (age > LOCK_GRACE_S and self._unowned(old))):
                    logger.info("removing %s, left by a job that did not end cleanly", old.name)
                    shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def _unowned(folder: Path) -> bool:
        """Whether no living job holds ``folder``'s owner lock (False where that cannot be told)."""
        lock = folder / OWNER
        if fcntl is None or not lock.is_file():
            return False
        with open(lock, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # a running job holds it (or the file system cannot tell)
            return True

    def file(self, name: str) -> Path:
        return self.path / name

    def earlier_notice(self) -> str | None:
        """A warning when ``out_dir`` holds results of an earlier job that this one does not replace
        (another job's green screen beside this one's composite): they are left, as everything
        the person had is, but this job's report must not seem to speak for them."""
        made = {entry.name for entry in self.path.iterdir()} | {"report.json"}
        earlier = sorted(name for name in RESULT_NAMES if name not in made and (self.out_dir / name).exists())
        if not earlier:
            return None
        return (f"{self.out_dir.name}/ also holds {', '.join(earlier)} of an earlier job, left as they were: "
                "this job did not make them")

    def commit(self) -> dict[str, Path]:
        """Move every staged entry into ``out_dir`` (replacing older results of the same name)."""
        moved: dict[str, Path] = {}
        self._let_go()
        for entry in sorted(self.path.iterdir()):
            target = self.out_dir / entry.name
            if target.is_dir() and entry.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)
            moved[entry.name] = target
        self.path.rmdir()
        return moved

    def discard(self) -> None:
        self._let_go()
        shutil.rmtree(self.path, ignore_errors=True)
        if self._created_out:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()  # only if empty: never delete what the user had


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def _write_png(path: Path, grey: np.ndarray) -> None:
    if not cv2.imwrite(str(path), grey):
        raise OutputNotWritableError(f"could not write {path.name}")


class FrameSink:
    """Every requested output for one frame: the composite, the matte, transparent and green files.

    ``write`` gets the frame, its straight alpha, the foreground colour to use at the edges and the
    background (None for transparent jobs), and turns them into each format.
    """

    def __init__(
        self,
        staging: Staging,
        formats: tuple[str, ...],
        width: int,
        height: int,
        fps: Fraction,
        time_base: Fraction | None,
        crf: int,
        preset: str,
        matte_frames: bool,
        sample_aspect: Fraction = Fraction(1),
        timecode: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        from core.video_io import VideoWriter

        self.formats = formats
        self.writers: dict[str, Any] = {}
        self.matte_dir: Path | None = None
        self._green = solid(GREEN, width, height)
        try:
            for name in formats:
                self.writers[name] = VideoWriter(
                    staging.file(name), width, height, fps, VIDEO_KINDS[name],
                    time_base=time_base, crf=crf, preset=preset, sample_aspect=sample_aspect,
                    timecode=timecode, tags=tags,
                )
            if matte_frames:
                self.matte_dir = staging.file("alpha")
                self.matte_dir.mkdir()
        except BaseException:
            self.abort()
            raise

    @property
    def needs_clean_foreground(self) -> bool:
        """Transparent and green-screen files need the edge colour with the old background removed:
        every output but the composite and the matte (``render``'s other branches)."""
        return any(name not in ("composite.mp4", "alpha.mp4") for name in self.writers)

    def render(
        self,
        foreground: np.ndarray,
        clean_foreground: np.ndarray | None,
        alpha: np.ndarray,
        background: np.ndarray | None,
        light_wrap: float,
    ) -> dict[str, np.ndarray]:
        """The image each output gets for this frame. ``foreground``: colour for the composite
        (despilled as asked); ``clean_foreground``: colour with the old background solved out, for
        editors' files. Runs on the compute thread; ``encode`` runs on the encoder thread."""
        clean = clean_foreground if clean_foreground is not None else foreground
        images: dict[str, np.ndarray] = {}
        rgba = None  # one for all the transparent files
        for name in self.writers:
            if name == "composite.mp4":
                images[name] = composite(foreground, alpha, background, light_wrap)
            elif name == "alpha.mp4":
                images[name] = alpha_to_u8(alpha)
            elif name == "greenscreen.mp4":
                images[name] = composite(clean, alpha, self._green)
            else:
                rgba = to_rgba(clean, alpha) if rgba is None else rgba
                images[name] = rgba
        if self.matte_dir is not None:
            images["alpha/"] = images.get("alpha.mp4", alpha_to_u8(alpha))
        return images

    def encoders(self) -> dict[str, Callable[..., None]]:
        """One encode function per output, each to run on its own thread (x264, libvpx and
        ProRes then work side by side). Each takes (index, pts, images, duration)."""
        def video(name: str) -> Callable[..., None]:
            writer = self.writers[name]
            return lambda index, pts, images, duration: writer.write(images[name], pts=pts, duration=duration)

        encoders = {name: video(name) for name in self.writers}
        if self.matte_dir is not None:
            matte_dir = self.matte_dir
            encoders["alpha/"] = lambda index, pts, images, duration: _write_png(
                matte_dir / f"{index:06d}.png", images["alpha/"])
        return encoders

    @property
    def warnings(self) -> list[str]:
        """What the encoders had to change (e.g. an odd size padded for H.264), once each."""
        return list(dict.fromkeys(w for writer in self.writers.values() for w in writer.warnings))

    def abort(self) -> None:
        """Drop every partial file (the staging folder is removed by the caller)."""
        for writer in self.writers.values():
            writer.abort()

    def close(self) -> None:
        errors = []
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception as exc:  # close every writer even if one fails
                errors.append(exc)
        if errors:
            raise errors[0]
