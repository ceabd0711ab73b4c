"""The pipeline: one function, ``run_job``, that every front end calls.

A video job, top to bottom:
1. check the request (input, limits, prompts, background, output folder) before heavy work;
2. segment each prompt frame (clicks -> a mask per subject, each subject then tracked by a matter
   of its own: core/subject_tracks.py; core/prompt_segmenting.py), while the matters take their
   look at the clip on a thread and a reader of their own (core/clip_samples.py);
3. if the prompt frame is not the first, matte backwards from it, chunk by chunk, spilling the
   alphas (1 byte a pixel) to a scratch file, so memory stays flat; so too from the frame where a
   subject is first clicked after the prompt frame;
4. one forward pass: decode (thread) -> matte -> compose -> encode (thread), in bounded queues; a
   correction's clicks refine the matte carried to their frame when the pass gets there, and the
   frames of the second before it, held back till then, ease into it (core/lead_in.py);
5. put the source's sound into the finished files, write report.json, move everything into --out.
Memory does not grow with the clip's length; cancelling stops between chunks and leaves nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from app_config import QUALITIES, Settings, get_settings
from core import memory_manager
from core.backward_pass import BackwardPass
from core.clip_samples import ClipSamples
from core.compositing import clean_foreground, mix_despill, refine_alpha
from core.coverage import Coverage
from core.exceptions import FormatError, StudioError
from core.job import (
    EdgeOptions,
    JobRequest,
    JobResult,
    check_input_file,
    check_inputs_kept,
    check_limits,
    disk_full_error,
    frame_range,
    reading_notices,
    resolve_formats,
    video_report,
)
from core.lead_in import HeldFrame, LeadIns, lead_in_steps, lead_in_windows
from core.outputs import WITH_AUDIO, FrameSink, Staging, write_json
from core.pipelining import Background, Prefetcher, Worker, opencv_threads_for_a_job
from core.progress_tracker import ProgressCallback, ProgressTracker
from core.prompt_segmenting import PromptSegmenting
from core.prompts import first_marked_frames, validate_prompts, without_empty
from core.spill import AlphaSpill
from core.subject_tracks import SubjectTracks, matters_made_later
from core.timecode import timecode_at
from models.backgrounds import OutputGeometry, make_background
from models.engines import EngineChoice, resolve_engine

logger = logging.getLogger(__name__)


def run_job(request: JobRequest, progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
            settings: Settings | None = None) -> JobResult:
    """Run one job to completion, or raise a ``StudioError`` leaving nothing in ``request.out_dir``."""
    settings = settings or get_settings()
    memory_manager.configure_allocator()
    if request.quality not in QUALITIES:
        raise FormatError(f"unknown quality {request.quality!r}", f"use one of {', '.join(QUALITIES)}")
    settings = replace(settings, quality=request.quality)
    request.edges.check()
    request = replace(request, prompts=without_empty(request.prompts))
    path = check_input_file(request.input_path, settings)
    from core.image_io import is_image_path

    try:
        if is_image_path(path):
            from core.photo_processor import run_photo_job

            return run_photo_job(replace(request, input_path=path), settings, progress)
        with opencv_threads_for_a_job():
            return VideoJob(replace(request, input_path=path), settings, progress, cancel).run()
    except OSError as exc:  # PyAV's errors are OSErrors too, with the errno FFmpeg gave
        if (full := disk_full_error(exc, request.out_dir)) is not None:
            raise full from None
        raise


class VideoJob:
    """State of one video job; ``run`` is the whole story, each step a method below it."""

    def __init__(self, request: JobRequest, settings: Settings, progress: ProgressCallback | None,
                 cancel: threading.Event | None) -> None:
        from core.job import source_notices
        from core.video_io import probe

        self.request = request
        self.settings = settings
        self.timings: dict[str, float] = dict.fromkeys(
            ("probe", "load", "segment", "matte", "compose", "decode", "encode", "audio"), 0.0
        )
        self.audio_modes: dict[str, str] = {}  # output file -> "copy" / "transcode" / "none"
        started = time.perf_counter()
        self.info = probe(request.input_path)
        self.timings["probe"] = time.perf_counter() - started
        info = self.info
        self.first, self.stop = frame_range(request, info)
        end = info.duration_s if self.stop == info.frame_count else info.time_of(self.stop)
        kept_s = end - info.time_of(self.first)
        check_limits("video", info.width, info.height, kept_s, settings,
                     trimmed=(self.first, self.stop) != (0, info.frame_count))
        validate_prompts(request.prompts, info.width, info.height, self.first, self.stop)
        self.background = make_background(request.background, seed=request.seed)
        self.formats = resolve_formats(request, self.background is None, kept_s)
        check_inputs_kept(request, [*self.formats, "report.json", *(["alpha"] if request.matte_frames else [])])
        self.prompt_frame = min(request.prompts)
        self.warnings: list[str] = source_notices(info)
        self.first_frame_s = 0.0  # set by the forward pass (report.json)
        self.late_until = 0  # frames before this may hold subjects first marked later (the backward spill)
        n_back = sum(f - self.first for f in first_marked_frames(request.prompts))
        self.lead_in_windows = lead_in_windows(request.prompts, float(info.fps), (info.height, info.width))
        self.tracker = ProgressTracker(
            {"segment": len(request.prompts), "matte backwards": n_back,
             "lead-in": lead_in_steps(self.lead_in_windows), "process": self.stop - self.first},
            progress,
            cancel,
        )

    # -- the story ---------------------------------------------------------------------------
    def run(self) -> JobResult:
        from core.video_reader import VideoReader

        staging = Staging(self.request.out_dir)
        started = self._started = time.perf_counter()
        try:
            with memory_manager.PeakRSS() as peak, VideoReader(self.request.input_path, self.info) as reader:
                self.engine = self._load_engine()
                self.segmenting = PromptSegmenting(self.engine.segmenter, self.request.prompts,
                                                   (self.info.height, self.info.width), self.tracker,
                                                   self.timings, self.warnings)
                samples = self._samples()
                matter = SubjectTracks(self.engine.matter_factory, self._subject_ids())
                # The matters' look at the clip (a still camera's plate decodes frames spread over it)
                # runs beside the segmentation and the backward pass, on a reader of its own.
                prepared = Background(matter.prepare, samples, name="prepare")
                try:
                    masks = self.segmenting.segment(reader, samples)
                    backward = BackwardPass(self.info, self.settings, self.first, self.engine.matter_factory,
                                            self.tracker, self.timings)
                    spill = backward.run(reader, masks, samples)
                    self.late_until = backward.late_until
                    try:
                        self._forward(reader, masks, matter, prepared, spill, staging, samples)
                        self.warnings.extend(reading_notices(reader))
                    finally:
                        if spill is not None:
                            spill.close()
                finally:
                    prepared.join()  # never close the samples' reader under its decode
                    if self.segmenting.pending:
                        self.segmenting.close()
                    matter.close()
                    samples.close()
                    self.timings["decode"] += samples.decode_s
                self._add_audio(staging)
            if notice := staging.earlier_notice():
                self.warnings.append(notice)
            report = video_report(self, time.perf_counter() - started, peak.peak_mb)
            write_json(staging.file("report.json"), report)
            outputs = staging.commit()
        except BaseException:
            staging.discard()
            raise
        return JobResult(out_dir=Path(self.request.out_dir), outputs=outputs, report=report)

    def _load_engine(self) -> EngineChoice:
        self.tracker.announce("load", f"loading engine ({self.request.engine})")
        started = time.perf_counter()
        engine = resolve_engine(self.request.engine, self.settings)
        self.timings["load"] = time.perf_counter() - started
        self.warnings.extend(engine.warnings)
        logger.info("engine: %s (%s)", engine.name, engine.reason)
        return engine

    def _subject_ids(self) -> list[int]:
        return sorted({o.object_id for objects in self.request.prompts.values() for o in objects})

    def _samples(self) -> ClipSamples:
        """What the segmenter and the matter may look at (decoded only if they ask; bounded by memory)."""
        return ClipSamples(self.request.input_path, self.info, self.prompt_frame, self.stop)

    def _forward(self, reader, masks, matter, prepared: Background, spill: AlphaSpill | None,
                 staging: Staging, samples: ClipSamples) -> None:
        """Decode -> matte -> compose -> encode, every frame of [first, stop), in order.

        ``matter`` is being prepared by ``prepared`` (the decoder starts filling its queue first);
        then the look at the clip (``samples``) is over: its frames and plates go."""
        info, req = self.info, self.request
        preset = self.settings.preset
        sink = FrameSink(staging, self.formats, info.width, info.height, info.fps, info.time_base,
                         preset.crf, preset.x264_preset, req.matte_frames, info.sample_aspect,
                         timecode_at(info.timecode, self.first, info.fps) if info.timecode else None, info.tags)
        chunk = memory_manager.chunk_size(max(1, self.settings.chunk_frames))  # smaller under memory pressure
        depth = memory_manager.queue_depth(chunk, 3 * info.width * info.height)
        frames = Prefetcher(reader.frames(self.first, self.stop), depth=depth, name="decode")
        try:
            if self.background is not None:
                geometry = OutputGeometry(info.width, info.height, self.stop - self.first, float(info.fps),
                                          float(info.sample_aspect))
                t0 = time.perf_counter()
                self.background.open(geometry, lambda f, msg: self.tracker.announce("background", msg))
                self.timings["load"] += time.perf_counter() - t0
                if self.background.notice:
                    self.warnings.append(self.background.notice)
            prepared.wait()
            self.segmenting.keep_clip_look()
            # each matter keeps its own copy of what it worked out (at 4K: 0.55 GB less); a lead-in's
            # matter, or one for a subject's further thing, made later, finds it in the samples' memo
            if self.lead_in_windows or matters_made_later(masks):
                samples.drop_frames()
            else:
                samples.close()
        except BaseException:
            frames.close()
            if self.background is not None:
                self.background.close()
            sink.abort()
            raise
        encoders = [Worker(enc, depth=depth, name=f"encode-{name}") for name, enc in sink.encoders().items()]
        edges = req.edges

        def compose(index: int, rgb: np.ndarray, alpha: np.ndarray, pts: int | None, duration: int | None) -> None:
            # on its own thread: frame i is composed while the matter works on frame i + 1
            t0 = time.perf_counter()
            images = self._compose(sink, rgb, alpha, index, edges)
            self.timings["compose"] += time.perf_counter() - t0
            for encoder in encoders:
                encoder.submit(index, pts, images, duration)

        composer = Worker(compose, depth=2, name="compose")
        refine = edges.feather_px > 0 or edges.choke_px != 0
        first_pts = info.frame_pts[self.first] if info.frame_pts else None
        last = self.stop - 1
        done = False
        empty = Coverage()  # frames with no subject, in all and (several subjects) of each one
        lead_ins = LeadIns(self.lead_in_windows, self.engine.matter_factory, samples)

        def finish(held: HeldFrame) -> None:  # the frame's matte is final: on to the compositor
            i, alpha = held.index, held.alpha
            if self.prompt_frame <= i < self.late_until:  # a subject first marked later, matted backwards
                alpha = np.maximum(alpha, spill.read(i - self.first))
            if refine:
                alpha = refine_alpha(alpha, edges)
            empty.add(i, alpha, held.alphas)
            if i == self.first:  # what the job did before its first frame: open, segment, look, backward pass
                self.first_frame_s = time.perf_counter() - self._started
            composer.submit(i - self.first, held.rgb, alpha, held.pts, self._duration(i) if i == last else None)
            self.tracker.advance("process", 1)

        try:
            for n, frame in enumerate(frames):
                if n % chunk == 0:
                    self.tracker.check_cancelled()
                i = frame.index
                t0 = time.perf_counter()
                if i < self.prompt_frame:
                    alpha = spill.read(i - self.first)
                elif i in masks:  # the prompt frame (the subjects start), or a correction
                    alpha = matter.correct(frame.rgb, masks[i], self.segmenting.refiner(i, frame.rgb))
                else:
                    alpha = matter.step(frame.rgb)
                pts = None if frame.pts is None or first_pts is None else frame.pts - first_pts
                held = HeldFrame(i, frame.rgb, alpha, dict(matter.alphas) if i >= self.prompt_frame else {}, pts)
                ready = [held]
                if i in lead_ins.windows:  # a correction: the frames held before it ease into it
                    ready = lead_ins.release(i, frame.rgb, matter.restarted,
                                             lambda: self.tracker.advance("lead-in", 1)) + ready
                if lead_ins.holds(i):
                    lead_ins.hold(ready.pop())
                self.timings["matte"] += time.perf_counter() - t0
                for done_matting in ready:
                    finish(done_matting)
            for held in lead_ins.flush():  # the frames ended before a correction (a file cut short)
                finish(held)
            composer.finish()
            for encoder in encoders:
                encoder.finish()
            done = True
        finally:
            frames.close()
            lead_ins.close()
            if self.background is not None:
                self.background.close()
            self.timings["decode"] += frames.busy_s
            self.timings["encode"] += sum(encoder.busy_s for encoder in encoders)
            if done:
                sink.close()
                self.warnings.extend(sink.warnings)
                self.warnings.extend(empty.warnings(float(info.fps)))
            else:  # stop the composer and encoders before dropping their files
                composer.abort()
                for encoder in encoders:
                    encoder.abort()
                sink.abort()

    def _duration(self, index: int) -> int | None:
        """How long frame ``index`` lasts (source time base): the output ends when the input does."""
        pts = self.info.frame_pts
        if pts and index + 1 < len(pts):
            return pts[index + 1] - pts[index]
        return (self.info.last_duration or None) if pts else None

    def _compose(self, sink: FrameSink, rgb: np.ndarray, alpha: np.ndarray, index: int, edges: EdgeOptions):
        clean = None
        if sink.needs_clean_foreground or edges.despill > 0:
            clean = clean_foreground(rgb, alpha)
        foreground = mix_despill(rgb, clean, edges.despill) if clean is not None else rgb
        background = self.background.frame(index, rgb, alpha) if self.background is not None else None
        return sink.render(foreground, clean, alpha, background, edges.light_wrap)

    def _add_audio(self, staging: Staging) -> None:
        from core.audio_processor import UNREADABLE, mux_audio

        if not (self.request.keep_audio and self.info.has_audio):
            if self.info.has_audio:
                self.warnings.append("audio left out (keep audio is off)")
            return
        self.tracker.announce("audio", "adding the original sound")
        started = time.perf_counter()
        info = self.info
        start_s = info.time_of(self.first) if self.first > 0 else None
        end_s = info.time_of(self.stop) if self.stop < info.frame_count else None
        # past frames that cannot be decoded, the picture starts later than the video track's clock
        origin = float(info.frame_pts[0] * info.time_base) if info.undecodable_lead else None
        for name in WITH_AUDIO:
            if name in self.formats:
                video = staging.file(name)
                muxed = video.with_name(f".mux-{name}")
                self.audio_modes[name] = mux_audio(video, self.request.input_path, muxed, start_s=start_s, end_s=end_s,
                                                  source_start_s=origin)
                os.replace(muxed, video)
        if UNREADABLE in self.audio_modes.values():
            self.warnings.append(f"the sound of {info.path.name} cannot be read here (multichannel PCM in a channel order "
                                 "this build of FFmpeg's PyAV cannot take): the outputs are silent")
        self.timings["audio"] = time.perf_counter() - started


__all__ = ["StudioError", "run_job", "check_input_file", "VideoJob"]
