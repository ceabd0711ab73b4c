"""A photo job: the same engines as a video, one frame. Gives cutout.png (RGBA, straight alpha
with the old background solved out of the edges) and composite.png over the chosen background."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from app_config import Settings
from core import memory_manager
from core.compositing import clean_foreground, composite, mix_despill, refine_alpha, to_rgba
from core.job import JobRequest, JobResult, check_inputs_kept, check_limits
from core.outputs import Staging, write_json
from core.progress_tracker import ProgressCallback, ProgressTracker
from core.prompts import segment_objects, selection_warning, union_mask, validate_prompts
from models.backgrounds import OutputGeometry, make_background
from models.engines import resolve_engine

logger = logging.getLogger(__name__)


def run_photo_job(request: JobRequest, settings: Settings, progress: ProgressCallback | None = None) -> JobResult:
    from core.image_io import animation_notice, photo_tags, read_image, save_png

    started = time.perf_counter()
    image = read_image(request.input_path)
    tags = photo_tags(request.input_path)
    height, width = image.shape[:2]
    check_limits("photo", width, height, 0.0, settings)
    validate_prompts(request.prompts, width, height, 0, 1)
    background = make_background(request.background, seed=request.seed)
    check_inputs_kept(request, ["cutout.png", "report.json", *(["composite.png"] if background is not None else [])])
    tracker = ProgressTracker({"segment": 1, "matte": 1}, progress)
    staging = Staging(request.out_dir)
    try:
        with memory_manager.PeakRSS() as peak:
            engine = resolve_engine(request.engine, settings)
            results = segment_objects(engine.segmenter, image, request.prompts[0])
            mask = union_mask({oid: r.mask for oid, r in results.items()}, (height, width))
            selection = selection_warning(mask, request.prompts[0])
            tracker.advance("segment")
            matter = engine.matter_factory()
            try:
                alpha = matter.start(image, mask)
            finally:
                matter.close()
            alpha = refine_alpha(alpha, request.edges)
            tracker.advance("matte")
            clean = clean_foreground(image, alpha)
            save_png(staging.file("cutout.png"), to_rgba(clean, alpha), tags)
            warnings = list(engine.warnings) + [w for w in (animation_notice(request.input_path), selection,
                                                            video_only_notice(request)) if w]
            if background is not None:
                background.open(OutputGeometry(width, height, 1, 1.0))
                if background.notice:
                    warnings.append(background.notice)
                foreground = mix_despill(image, clean, request.edges.despill)
                out = composite(foreground, alpha, background.frame(0, image, alpha), request.edges.light_wrap)
                background.close()
                save_png(staging.file("composite.png"), out, tags)
        if notice := staging.earlier_notice():
            warnings.append(notice)
        report = {
            "engine": engine.name,
            "engine_reason": engine.reason,
            "quality": request.quality,
            "background": request.background,
            "input": {"file": Path(request.input_path).name, "width": width, "height": height, "kind": "photo"},
            "frames": 1,
            "outputs": ["cutout.png"] + (["composite.png"] if background is not None else []),
            "seconds": {"total": round(time.perf_counter() - started, 3)},
            "peak_rss_mb": round(peak.peak_mb, 1),
            "warnings": warnings,
        }
        write_json(staging.file("report.json"), report)
        outputs = staging.commit()
    except BaseException:
        staging.discard()
        raise
    return JobResult(out_dir=Path(request.out_dir), outputs=outputs, report=report)


def video_only_notice(request: JobRequest) -> str | None:
    """What a photo's job leaves out of the options given (a person who set a trim or asked for every
    frame's matte should not think it was applied): its cutout.png is the transparent output."""
    unused = [name for name, given in (("--trim-start/--trim-end", request.trim_start_s is not None
                                        or request.trim_end_s is not None),
                                       ("--matte-frames", request.matte_frames)) if given]
    if not unused:
        return None
    return f"a photo: {', '.join(unused)} apply to videos only (the cutout.png's alpha is the photo's matte)"
