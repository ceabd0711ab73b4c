"""What a job is: the request every front end builds, the result it gets back, the checks of a
request that come before any heavy work (the input file, the trim, the output formats), and the
report a video job writes.

The CLI (app.py process), the studio (ui/) and the API endpoints all build a ``JobRequest`` and
call ``core.video_processor.run_job``; nothing else touches engines or media.
"""

from __future__ import annotations

import errno
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from app_config import DEFAULT_FORMATS, OUTPUT_FORMATS, Settings
from core.exceptions import (
    ArgumentError,
    DiskFullError,
    FormatError,
    LimitExceededError,
    OutputNotWritableError,
)
from models.base import ObjectPrompt

if TYPE_CHECKING:
    from core.video_processor import VideoJob

TRANSPARENT_DEFAULT = ("foreground.webm", "alpha.mp4")
# libwebp builds an animated WebP in memory and writes it at the end, so memory grows with the clip
# (dog.mp4 at 720p: a 13 MB sticker for 9.6 s; three times as long, 46 MB more at the peak); a
# sticker is a short loop anyway
STICKER_MAX_S = 60.0
_FORMATS_HINT = f"formats: {', '.join(OUTPUT_FORMATS)}"


@dataclass
class EdgeOptions:
    """Finishing of the matte edge and the composite (all off = the engine's alpha as is)."""

    feather_px: float = 0.0  # soften the alpha edge (Gaussian sigma in px)
    choke_px: float = 0.0  # shrink (>0) or grow (<0) the matte
    despill: float = 0.0  # 0..1, remove the old background's colour cast from edges
    light_wrap: float = 0.0  # 0..1, let the new background's light wrap around the subject

    #: what each option may be: (lowest, highest, the option's name on the command line)
    LIMITS: ClassVar[dict[str, tuple[float, float, str]]] = {
        "feather_px": (0.0, 100.0, "--feather"), "choke_px": (-100.0, 100.0, "--choke"),
        "despill": (0.0, 1.0, "--despill"), "light_wrap": (0.0, 1.0, "--light-wrap")}

    def check(self) -> None:
        """A coded ``ArgumentError`` for a value out of range: a despill of 3 or a negative
        feather would otherwise be applied as something else than what was asked."""
        for name, (lo, hi, flag) in self.LIMITS.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ArgumentError(f"{flag} {value:g} is out of range", f"give {flag} between {lo:g} and {hi:g}")


@dataclass
class JobRequest:
    """One background-replacement job. Coordinates are source pixels of the prompt frame.

    ``prompts`` maps a frame index to the subjects prompted on that frame; the lowest index is
    the prompt frame (frames before it are matted backwards), later ones are corrections.
    """

    input_path: Path | str  # a path as typed is fine: ``run_job`` checks it and makes it a Path
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
    #: other files the job reads (a mask PNG): its results must not replace them either
    read_files: tuple[Path, ...] = ()


@dataclass
class JobResult:
    """Paths of the files written (by output name, e.g. "composite.mp4") and the report dict."""

    out_dir: Path
    outputs: dict[str, Path]
    report: dict


def check_input_file(path: Path | str, settings: Settings) -> Path:
    """A readable local file within the upload limit, else a coded error (URLs, folders refused)."""
    from core.video_io import check_input_path

    p = check_input_path(path)
    size_mb = p.stat().st_size / 2**20
    if size_mb > settings.max_upload_mb:
        raise LimitExceededError(f"the file is {size_mb:.0f} MB, over the {settings.max_upload_mb} MB limit")
    return p


def resolve_formats(request: JobRequest, transparent: bool, duration_s: float = 0.0) -> tuple[str, ...]:
    """The outputs to write. A transparent job has no composite; greenscreen needs no background; a
    sticker is for a short part (``duration_s``: what the job processes)."""
    unknown = [f for f in request.formats if f not in OUTPUT_FORMATS]
    if unknown:
        raise FormatError(f"unknown output format {unknown[0]!r}", _FORMATS_HINT)
    if "foreground.webp" in request.formats and duration_s > STICKER_MAX_S:
        raise FormatError(f"foreground.webp is for clips of up to {STICKER_MAX_S:g} s, and this one lasts "
                          f"{duration_s:.0f} s", "trim it (--trim-start/--trim-end, the studio's Trim start/end), "
                          "or choose foreground.webm, the transparent video for any length")
    formats = tuple(dict.fromkeys(request.formats))
    if transparent:
        formats = tuple(f for f in formats if f != "composite.mp4") or TRANSPARENT_DEFAULT
    if not formats:
        raise FormatError("no output format chosen", _FORMATS_HINT)
    return formats


def frame_range(request: JobRequest, info) -> tuple[int, int]:
    """[first, stop) frames kept by the trim (seconds from the source's first frame; exact for a
    variable frame rate too: frames are found by their timestamps)."""
    first = first_kept_frame(info, request.trim_start_s)
    stop = info.frame_count if request.trim_end_s is None else info.index_at(request.trim_end_s)
    if stop <= first:
        raise LimitExceededError("the trim leaves no frames", "choose trim start < trim end within the clip")
    return first, stop


def first_kept_frame(info, trim_start_s: float | None) -> int:
    """The first frame a trim keeps (0 without one): also the prompt frame when none is given, so
    that a click with ``--trim-start`` alone lands on the first frame of the part kept."""
    return 0 if trim_start_s is None else info.index_at(max(0.0, trim_start_s))


def hdr_notice(info) -> str | None:
    """What to tell a person whose clip is HDR, else None: the outputs are SDR (core/hdr.py), and
    the conversion costs time on every frame."""
    if not info.hdr:
        return None
    return (f"the clip is HDR ({info.hdr}): tone mapped to SDR (BT.709), its reference white as SDR white "
            "and brighter highlights rolled off; the conversion makes decoding slower")


def check_limits(kind: str, width: int, height: int, duration_s: float, settings: Settings,
                 trimmed: bool = False) -> None:
    """The configured limits, for the job and for the studio's upload alike: a clip's duration and
    size (``BGFX_MAX_DURATION_S``, ``BGFX_MAX_SIDE_PX``), a photo's size (``BGFX_MAX_PHOTO_SIDE_PX``).
    ``duration_s`` is what the job processes: a long clip trimmed to a short part is within it."""
    if kind == "video" and duration_s > settings.max_duration_s:
        what = "the part of the clip kept" if trimmed else "the clip"
        raise LimitExceededError(f"{what} lasts {duration_s:.0f} s, over the {settings.max_duration_s:g} s limit",
                                 f"trim it to at most {settings.max_duration_s:g} s (--trim-start/--trim-end, "
                                 "the studio's Trim start/end), or raise BGFX_MAX_DURATION_S")
    limit = settings.max_side_px if kind == "video" else settings.max_photo_side_px
    if max(width, height) > limit:
        what = "clip" if kind == "video" else "photo"
        raise LimitExceededError(f"the {what} is {width}x{height}, over the {limit} px limit")


def check_inputs_kept(request: JobRequest, names: list[str]) -> None:
    """Refuse a job whose results would replace one of its own files: re-processing
    ``out/composite.mp4`` into ``out/`` used to overwrite the clip with its result, the only copy."""
    inputs = [request.input_path, *request.read_files]
    kind, _, argument = request.background.partition(":")
    if kind in ("image", "video") and argument:
        inputs.append(Path(argument).expanduser())
    out = Path(request.out_dir)
    for source in inputs:
        source = Path(source).resolve()
        for name in names:
            result = (out / name).resolve()
            # a folder of results (alpha/, every frame's matte) is replaced whole: a file in it goes too
            # (an earlier job's frame 0, touched up and given as this job's --mask)
            if result == source or result in source.parents:
                raise OutputNotWritableError(
                    f"{source if result != source else out / name} is one of the job's own files: its result "
                    "would replace it", "choose another --out folder, or move the file out of it first")


def disk_full_error(exc: OSError, out_dir: Path) -> DiskFullError | None:
    """The coded error for an OSError that says the disk is full (where: the output folder, or the
    scratch folder the file was in), else None."""
    if getattr(exc, "errno", None) not in (errno.ENOSPC, errno.EDQUOT):
        return None
    name = str(getattr(exc, "filename", None) or "")
    out = Path(out_dir)
    where = out if not name or out.resolve() in Path(name).resolve().parents else Path(name).parent
    return DiskFullError(f"the disk is full where {where} is")


def lead_notice(info) -> str | None:
    """What to tell a person whose file starts with frames that cannot be decoded."""
    if not info.undecodable_lead:
        return None
    return (f"the first {info.undecodable_lead} frames of {info.path.name} cannot be decoded (the file was cut "
            "in the middle of a group of pictures): the outputs start at its first whole frame, the sound with it")


def cut_short_notice(info) -> str | None:
    """What to tell a person whose file ends before its header says it does: the outputs are as
    short as the data, which a person who did not look at their length would not know."""
    if info.said_s is None:
        return None
    return (f"{info.path.name} looks cut short (a download or a recording that stopped): it says it lasts "
            f"{info.said_s:.1f} s but its frames end at {info.duration_s:.1f} s; the outputs are the "
            f"{info.frame_count} frames there are")


def source_notices(info) -> list[str]:
    """What to tell a person about how their clip is read: HDR, a cut start or end, a dithered GIF, fields."""
    notices = [hdr_notice(info), lead_notice(info), cut_short_notice(info)]
    if info.smoothing_px:  # core/grain.py
        notices.append(f"{info.path.name} is a dithered GIF: its frames are smoothed by {info.smoothing_px:.1f} px "
                       "as they are read, so that its scattered dots read as the colours they stand for")
    if info.interlaced:  # core/deinterlace.py
        notices.append(f"{info.path.name} is interlaced: its frames are deinterlaced as they are read (FFmpeg's "
                       "bwdif, a frame for each frame), as a player shows them, so no output has combs")
    return [n for n in notices if n]


def reading_notices(reader) -> list[str]:
    """What the reader of a job's clip had to make good, for the report: frames the decoder could
    not give (damaged bytes) and pictures of another size (a recording that changes size)."""
    name, notices = reader.info.path.name, []
    if reader.repeated:
        from core.coverage import runs_of

        spans = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs_of(sorted(reader.repeated))]
        listed = ", ".join(spans[:5]) + (", ..." if len(spans) > 5 else "")
        count = f"{len(reader.repeated)} frames" if len(reader.repeated) > 1 else "1 frame"
        notices.append(f"{name} is damaged: {count} could not be decoded ({listed}); each shows the frame "
                       "before it, so the length and the sound are kept")
    if reader.resized:
        sizes = ", ".join(f"{w}x{h} from frame {i}" for (w, h), i in sorted(reader.resized.items(), key=lambda x: x[1]))
        notices.append(f"{name} changes its picture size ({sizes}): those frames are scaled to "
                       f"{reader.info.width}x{reader.info.height}, its first frame's size, as a player shows them")
    return notices


def video_report(job: VideoJob, total_s: float, peak_mb: float) -> dict:
    """A video job's report.json: engine and why, frames, rates, seconds per stage, peak memory, warnings."""
    info, req = job.info, job.request
    frames = job.stop - job.first
    return {
        "engine": job.engine.name,
        "engine_reason": job.engine.reason,
        "quality": req.quality,
        "background": req.background,
        "input": {
            "file": Path(req.input_path).name, "width": info.width, "height": info.height,
            "frames": info.frame_count, "fps": str(info.fps), "duration_s": round(info.duration_s, 4),
            "has_audio": info.has_audio, "rotation": info.rotation, "variable_frame_rate": info.is_vfr,
            "codec": info.codec, "pix_fmt": info.pix_fmt, "hdr": info.hdr,
            "sample_aspect": f"{info.sample_aspect.numerator}:{info.sample_aspect.denominator}",
            "timecode": info.timecode, "interlaced": info.interlaced, "smoothed_px": info.smoothing_px,
        },
        "frames": frames,
        "input_fps": float(info.fps),
        "prompt_frame": job.prompt_frame,
        "correction_frames": sorted(f for f in req.prompts if f != job.prompt_frame),
        "trim": [job.first, job.stop],
        "outputs": list(job.formats) + (["alpha/"] if req.matte_frames else []),
        "audio": next(iter(job.audio_modes.values()), "none"),  # the composite's when there is one
        "audio_by_file": job.audio_modes,
        "seconds": {k: round(v, 3) for k, v in job.timings.items()} | {"total": round(total_s, 3)},
        "processing_fps": round(frames / max(total_s, 1e-6), 2),
        # seconds until the first frame went to the compositor, and the rate after it
        "first_frame_s": round(job.first_frame_s, 3),
        "fps_after_first_frame": round((frames - 1) / max(total_s - job.first_frame_s, 1e-6), 2),
        "peak_rss_mb": round(peak_mb, 1),
        "warnings": job.warnings,
    }
