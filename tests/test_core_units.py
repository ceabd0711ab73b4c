"""Units of the core machinery: settings, errors, progress, memory, threads, prompts, staging."""

from __future__ import annotations

import mmap
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app_config import load_settings
from core import exceptions as E
from core.memory_manager import PeakRSS, chunk_size, queue_depth, snapshot
from core.outputs import Staging
from core.pipelining import Background, Prefetcher, Worker, encoder_threads, opencv_threads_for_a_job
from core.progress_tracker import ProgressTracker
from core.prompts import click_steps, segment_by_steps, selection_warning, validate_prompts
from models.backgrounds import make_background
from models.base import ObjectPrompt, Segmenter, SegmentResult


def test_settings_validate_env(monkeypatch):
    monkeypatch.setenv("BGFX_QUALITY", "fast")
    monkeypatch.setenv("BGFX_MAX_DURATION_S", "12.5")
    s = load_settings()
    assert s.quality == "fast" and s.max_duration_s == 12.5 and s.preset.name == "fast"
    assert s.cuda_graphs is True
    monkeypatch.setenv("BGFX_CUDA_GRAPHS", "off")
    assert load_settings().cuda_graphs is False
    monkeypatch.setenv("BGFX_CUDA_GRAPHS", "maybe")
    with pytest.raises(E.ConfigError, match="BGFX_CUDA_GRAPHS"):
        load_settings()
    monkeypatch.delenv("BGFX_CUDA_GRAPHS")
    monkeypatch.setenv("BGFX_ENGINE", "magic")
    with pytest.raises(E.ConfigError, match="BGFX_ENGINE"):
        load_settings()
    monkeypatch.setenv("BGFX_ENGINE", "auto")
    monkeypatch.setenv("BGFX_CHUNK_FRAMES", "zero")
    with pytest.raises(E.ConfigError, match="BGFX_CHUNK_FRAMES='zero' is not a whole number"):
        load_settings()
    monkeypatch.delenv("BGFX_CHUNK_FRAMES")
    # "nan" compares false with everything: as a limit it held nothing back; a port past 65535 failed
    # only when the studio tried to listen
    for name, value, says in [("BGFX_MAX_DURATION_S", "nan", "is not a finite number"),
                              ("BGFX_MAX_DURATION_S", "inf", "is not a finite number"),
                              ("BGFX_PORT", "70000", "must be at most 65535"),
                              ("BGFX_HUB_TIMEOUT_S", "0.1", "must be at least 0.5")]:
        monkeypatch.setenv(name, value)
        with pytest.raises(E.ConfigError, match=f"{name}='{value}' {says}"):
            load_settings()
        monkeypatch.delenv(name)
    assert load_settings().port == 7860


def test_error_lines_have_codes_and_hints():
    err = E.PointOutOfFrameError("point (9, 9) is outside")
    assert err.user_line().startswith("error E201: point (9, 9) is outside — ")
    codes = [cls.code for cls in vars(E).values() if isinstance(cls, type) and issubclass(cls, E.StudioError)]
    assert len(codes) == len(set(codes)), "every error class has its own code"


def test_progress_tracker_fraction_eta_and_cancel():
    updates = []
    cancel = threading.Event()
    tracker = ProgressTracker({"a": 10, "b": 10}, updates.append, cancel, min_interval_s=0)
    for _ in range(10):
        tracker.advance("a")
    assert updates[-1].fraction == pytest.approx(0.5)
    assert updates[-1].eta_s is not None and updates[-1].fps > 0
    assert "50.0%" in updates[-1].line()
    tracker.check_cancelled()
    cancel.set()
    with pytest.raises(E.JobCancelledError):
        tracker.check_cancelled()


def test_progress_rate_and_eta_follow_the_recent_frames_not_the_start(monkeypatch):
    import core.progress_tracker as progress

    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    updates = []
    tracker = ProgressTracker({"segment": 1, "process": 100}, updates.append, min_interval_s=0)
    clock[0] = 0.5
    tracker.advance("segment")
    clock[0] = 10.0  # a long start (a still camera's look at the whole clip) before the first frame
    tracker.advance("process")
    assert updates[-1].fps is None and updates[-1].eta_s is None  # no rate from one frame
    for _ in range(39):  # then 20 fps
        clock[0] += 0.05
        tracker.advance("process")
    assert updates[-1].fps == pytest.approx(20.0)
    assert updates[-1].eta_s == pytest.approx(60 / 20.0)
    for _ in range(100 - 40):  # slower now: 10 fps; the window forgets the faster frames
        clock[0] += 0.1
        tracker.advance("process")
        if tracker.units_done == 91:
            assert updates[-1].fps == pytest.approx(10.0)
            assert updates[-1].eta_s == pytest.approx(1.0)
    assert updates[-1].fraction == 1.0 and updates[-1].eta_s == 0


def test_memory_helpers():
    snap = snapshot()
    assert snap["rss_mb"] > 10 and snap["available_mb"] > 0
    assert chunk_size(16, pressure=False) == 16
    assert chunk_size(16, pressure=True) == 4
    with PeakRSS(interval_s=0.01) as peak:
        # 64 MB of fresh pages, touched (an array could reuse heap memory that earlier tests freed
        # and that is still resident, and then RSS would not grow)
        block = np.frombuffer(mmap.mmap(-1, 64 * 2**20), np.uint8)
        block[::4096] = 1
        deadline = time.monotonic() + 2.0  # the sampler thread may be slow to get a core on a busy machine
        while peak.peak_mb < snap["rss_mb"] + 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        del block
    assert peak.peak_mb >= snap["rss_mb"] + 40


def test_prefetcher_and_worker_order_and_errors():
    pre = Prefetcher(iter(range(100)), depth=4)
    assert list(pre) == list(range(100))
    seen = []
    worker = Worker(seen.append, depth=3)
    for i in range(50):
        worker.submit(i)
    worker.finish()
    assert seen == list(range(50))

    def boom():
        yield 1
        raise RuntimeError("decode failed")

    pre = Prefetcher(boom(), depth=2)
    with pytest.raises(RuntimeError, match="decode failed"):
        list(pre)
    bad = Worker(lambda x: 1 / x, depth=1)
    bad.submit(0)
    with pytest.raises(ZeroDivisionError):
        bad.finish()


def test_background_runs_on_its_own_thread_and_hands_over_its_error():
    ran_on = []
    ok = Background(lambda x: ran_on.append((threading.current_thread().name, x)), 7, name="look")
    ok.wait()
    assert ran_on == [("look", 7)]

    def fails():
        time.sleep(0.05)
        raise E.TruncatedMediaError("broken clip")

    bad = Background(fails, name="look")
    bad.join()  # waiting only: nothing raised
    with pytest.raises(E.TruncatedMediaError):
        bad.wait()
    bad.wait()  # handed over once


def test_opencv_threads_for_a_job_is_counted_and_restored(monkeypatch):
    import cv2

    from core.memory_manager import configure_allocator

    assert configure_allocator() is True  # glibc on this machine: the thresholds were taken
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
        with opencv_threads_for_a_job():  # many cores: OpenCV keeps its threads
            assert cv2.getNumThreads() == 2
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
        with opencv_threads_for_a_job():
            assert cv2.getNumThreads() == 1
            with opencv_threads_for_a_job():  # a second job at the same time
                assert cv2.getNumThreads() == 1
            assert cv2.getNumThreads() == 1  # the first job is still running
        assert cv2.getNumThreads() == 2
        with pytest.raises(RuntimeError), opencv_threads_for_a_job():
            raise RuntimeError("a failed job restores it too")
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)


def test_x264_takes_one_thread_on_two_cores_and_its_own_count_on_more(monkeypatch, tmp_path):
    from fractions import Fraction

    from core.video_writer import VideoWriter

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert encoder_threads() == 1
    with VideoWriter(tmp_path / "a.mp4", 64, 48, Fraction(25), "h264") as writer:
        assert writer._stream.codec_context.thread_count == 1
        writer.write(np.zeros((48, 64, 3), np.uint8))
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert encoder_threads() == 0
    with VideoWriter(tmp_path / "b.mp4", 64, 48, Fraction(25), "h264") as writer:
        assert writer._stream.codec_context.thread_count == 0
        writer.write(np.zeros((48, 64, 3), np.uint8))


def test_prompt_validation_codes():
    ok = {0: [ObjectPrompt(points=[(10, 10)], labels=[1])]}
    validate_prompts(ok, 64, 48, 0, 10)
    with pytest.raises(E.PointOutOfFrameError):
        validate_prompts({0: [ObjectPrompt(points=[(64, 10)], labels=[1])]}, 64, 48, 0, 10)
    with pytest.raises(E.FrameOutOfRangeError):
        validate_prompts({10: ok[0]}, 64, 48, 0, 10)
    with pytest.raises(E.MaskSizeError):
        validate_prompts({0: [ObjectPrompt(mask=np.ones((10, 10), bool))]}, 64, 48, 0, 10)
    with pytest.raises(E.EmptyMaskError):
        validate_prompts({0: [ObjectPrompt(mask=np.zeros((48, 64), bool))]}, 64, 48, 0, 10)
    with pytest.raises(E.NoPromptError):
        validate_prompts({}, 64, 48, 0, 10)
    with pytest.raises(E.PointOutOfFrameError):
        validate_prompts({0: [ObjectPrompt(box=(30, 10, 20, 40))]}, 64, 48, 0, 10)


def test_selection_warning_for_empty_and_tiny_selections():
    clicks = [ObjectPrompt(points=[(5, 5)], labels=[1])]
    mask = np.zeros((720, 1280), bool)
    assert "frame 3: the clicks selected nothing" in selection_warning(mask, clicks, 3)
    mask[100:110, 100:110] = True  # 100 px: 0.01 % of the frame
    assert "selected only 100 px (0.01 % of the frame)" in selection_warning(mask, clicks)
    assert selection_warning(mask, [ObjectPrompt(mask=mask)]) is None  # a mask as given: the person's choice
    mask[100:140, 100:140] = True  # 1600 px: a small subject far off, as meant
    assert selection_warning(mask, clicks, 0) is None
    gif = np.zeros((180, 320), bool)  # a small frame: 2e-4 of it is 11.5 px
    gif[50:55, 60:63] = True  # 15 px: a click's own dot (the segmenter found nothing around it)
    assert "selected only 15 px" in selection_warning(gif, clicks)
    gif[50:58, 60:66] = True  # 48 px
    assert selection_warning(gif, clicks) is None


def test_empty_frames_are_told_in_stretches_of_a_second_or_more():
    from core.coverage import EmptyFrames

    empty = EmptyFrames()
    subject, nothing = np.zeros((40, 40), np.float32), np.zeros((40, 40), np.float32)
    subject[10:20, 10:20] = 1.0
    for i in range(100):  # at 25 fps: nothing in 10-19 (0.4 s) and in 50-89 (1.6 s)
        empty.add(i, nothing if 10 <= i < 20 or 50 <= i < 90 else subject)
    assert empty.runs() == [(10, 19), (50, 89)]
    text = empty.warning(25.0)
    assert text.startswith("no subject in frames 50-89 (40 frames)") and "e.g. frame 69 (the command line's --correct 69:X,Y)" in text
    assert empty.warning(5.0).startswith("no subject in frames 10-19, 50-89 (50 frames)")
    full = EmptyFrames()
    full.add(0, subject)
    assert full.warning(25.0) is None


def test_a_subject_lost_while_another_stays_is_told_by_its_number():
    """Two subjects: the matte as a whole is never empty while one of them is lost, so each
    subject's own matte is watched; one taken out by a correction (absent) is not lost."""
    from core.coverage import Coverage

    seen = Coverage()
    one, nothing = np.zeros((40, 40), np.float32), np.zeros((40, 40), np.float32)
    one[10:20, 10:20] = 1.0
    for i in range(100):  # subject 2 lost in 30-69; taken out by a correction from 80 on
        two = nothing if 30 <= i < 70 else one
        seen.add(i, one, {1: one, 2: two} if i < 80 else {1: one})
    assert seen.warnings(25.0) == ["subject 2 not in frames 30-69 (40 frames): it left the frame or was lost; if "
                                   "it is there, click on it in one of those frames, e.g. frame 49 (the command line's --correct "
                                   "49:X,Y@2)"]
    single = Coverage()
    for i in range(50):
        single.add(i, nothing, {1: nothing})
    assert single.warnings(25.0) == [single.whole.warning(25.0)] and single.each == {}  # as before


def test_background_specs():
    assert make_background("transparent") is None
    assert make_background("color:#00ff00").color == (0, 255, 0)
    assert make_background("blur:10").radius == 10
    with pytest.raises(E.BackgroundSpecError):
        make_background("plasma:3")
    with pytest.raises(E.BackgroundSpecError):
        make_background("color:#zzzzzz")
    with pytest.raises(E.BackgroundSpecError):
        make_background("blur:-4")
    with pytest.raises(E.BackgroundSpecError):
        make_background("image")


def test_staging_commits_atomically_and_discards_cleanly(tmp_path):
    out = tmp_path / "out"
    st = Staging(out)
    st.file("a.txt").write_text("x")
    assert [p.name for p in out.iterdir()] == [st.path.name]  # only the hidden staging folder
    moved = st.commit()
    assert moved["a.txt"].read_text() == "x" and sorted(p.name for p in out.iterdir()) == ["a.txt"]
    st2 = Staging(tmp_path / "fresh")
    st2.file("b.txt").write_text("y")
    st2.discard()
    assert not (tmp_path / "fresh").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(E.OutputNotWritableError):
        Staging(tmp_path / "file")
    # a folder left by a job killed outright is removed once it is old; a fresh one is left alone
    import os

    dead, live = out / ".bgfx-partial-dead", out / ".bgfx-partial-live"
    dead.mkdir()
    live.mkdir()
    os.utime(dead, (time.time() - 2 * 86400,) * 2)
    Staging(out).discard()
    assert not dead.exists() and live.exists()


_HOLDS_A_STAGING = "import sys, time; from core.outputs import Staging; s = Staging(sys.argv[1]); print(s.path, flush=True); time.sleep(120)"


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: a staging folder goes by its age there")
def test_a_staging_folder_whose_job_was_killed_is_removed_by_the_next_job_and_a_live_ones_is_not(tmp_path):
    """SIGKILL (the system out of memory, a power cut) leaves a job's staging folder in --out; the
    next job removes it as soon as no living process holds its lock (it waited a day before). A
    folder a running job holds stays, however old its last change."""
    import os
    import signal
    import subprocess

    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[1]
    jobs = [subprocess.Popen([sys.executable, "-c", _HOLDS_A_STAGING, str(out)], cwd=root, stdout=subprocess.PIPE,
                             text=True) for _ in range(2)]
    try:
        killed, alive = (Path(job.stdout.readline().strip()) for job in jobs)
        (killed / "composite.mp4").write_bytes(b"partial" * 1000)
        jobs[0].send_signal(signal.SIGKILL)
        jobs[0].wait()
        for folder in (killed, alive):  # past the grace a new folder gets before it holds its lock
            os.utime(folder, (time.time() - 120,) * 2)
        Staging(out).discard()
        assert not killed.exists() and alive.is_dir()
    finally:
        for job in jobs:
            job.kill()
            job.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl")
def test_staging_works_on_a_file_system_without_locks(tmp_path, monkeypatch):
    """Some network and FUSE mounts refuse flock (ENOLCK): a job there must still write its files,
    its staging folder going by its age as before locks were used."""
    import errno

    from core import outputs

    def refused(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(outputs.fcntl, "flock", refused)
    st = Staging(tmp_path / "out")
    st.file("a.txt").write_text("x")
    assert sorted(p.name for p in st.path.iterdir()) == ["a.txt"]
    assert sorted(st.commit()) == ["a.txt"] and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.txt"]


def test_space_setup_is_a_noop_off_spaces(monkeypatch):
    import subprocess

    from models import space_setup

    monkeypatch.delenv("SPACE_ID", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(space_setup.importlib.util, "find_spec", lambda name: None)
    assert space_setup.ensure_matanyone_code() is False and calls == []
    monkeypatch.setenv("SPACE_ID", "user/space")
    assert space_setup.ensure_matanyone_code() is False  # pip "ran" but the package is still missing
    assert calls and "--no-deps" in calls[0][0]


def test_spills_round_trip_in_any_order(tmp_path):
    from core.spill import AlphaSpill, RawSpill

    frames = RawSpill(tmp_path, (4, 5, 3))
    data = [np.full((4, 5, 3), i * 10, np.uint8) for i in range(6)]
    for i in (5, 0, 3, 1, 4, 2):
        frames.write(i, data[i])
    assert all(np.array_equal(frames.read(i), data[i]) for i in range(6))
    frames.close()
    alphas = AlphaSpill(tmp_path, 4, 5)
    a = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    alphas.write(2, a)
    back = alphas.read(2)
    assert back.dtype == np.float32 and np.abs(back - a).max() <= 0.5 / 255 + 1e-6
    alphas.close()
    assert list(tmp_path.iterdir()) == []  # anonymous files: nothing left behind


def test_clip_samples_drop_frames_keeps_what_was_worked_out_and_never_waits(tmp_path):
    import media

    from core.clip_samples import ClipSamples
    from core.video_io import probe

    clip = media.make_video(tmp_path / "c.mp4", width=64, height=48, frames=24)
    samples = ClipSamples(clip, probe(clip), 0, 24)
    first = samples.spread()
    assert len(first) >= 4 and samples.memo("answer", lambda: 42) == 42
    samples._lock.acquire()  # a decode under way: dropping must not wait for it
    try:
        started = time.perf_counter()
        samples.drop_frames()
        assert time.perf_counter() - started < 0.5 and samples._spread is first
    finally:
        samples._lock.release()
    samples.drop_frames()
    assert samples._spread is None and samples._reader is None
    assert samples.memo("answer", lambda: 0) == 42  # kept
    again = samples.spread()  # decoded again on request
    assert len(again) == len(first) and all(np.array_equal(a, b) for a, b in zip(again, first, strict=True))
    samples.close()


def test_queues_hold_fewer_frames_when_frames_are_big():
    assert queue_depth(16, 1280 * 720 * 3) == 16  # 720p: the chunk
    assert queue_depth(16, 3840 * 2160 * 3) == 5  # 4K: 128 MB of frames
    assert queue_depth(16, 8192 * 8192 * 3) == 2  # never fewer than two
    assert queue_depth(4, 64 * 48 * 3) == 4


class _CountingSegmenter(Segmenter):
    """Records what it was asked: each step's clicks and the previous answer it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def set_image(self, image: np.ndarray) -> None:
        pass

    def segment(self, prompt: ObjectPrompt, previous: SegmentResult | None = None) -> SegmentResult:
        self.calls.append((len(prompt.points), None if previous is None else int(previous.score)))
        return SegmentResult(mask=np.zeros((4, 4), bool), score=float(len(prompt.points)))


def test_clicks_are_replayed_one_at_a_time_and_remembered():
    """The job replays a person's clicks in order, each step refining the last (what the studio
    showed); the studio's memo makes a further click one call and an undo none."""
    boxed = ObjectPrompt(points=[(1, 1), (2, 2)], labels=[1, 0], box=(0, 0, 3, 3))
    assert [(len(s.points), s.box) for s in click_steps(boxed)] == [(0, (0, 0, 3, 3)), (1, (0, 0, 3, 3)),
                                                                      (2, (0, 0, 3, 3))]
    clicks = ObjectPrompt(points=[(1, 1), (2, 2), (3, 3)], labels=[1, 1, 0])
    assert [s.labels for s in click_steps(clicks)] == [[1], [1, 1], [1, 1, 0]]
    seg, memo = _CountingSegmenter(), {}
    assert segment_by_steps(seg, clicks, memo).score == 3
    assert seg.calls == [(1, None), (2, 1), (3, 2)]  # each step given the answer before it
    segment_by_steps(seg, ObjectPrompt(points=[(1, 1), (2, 2)], labels=[1, 1]), memo)  # an undo
    segment_by_steps(seg, ObjectPrompt(points=[(1, 1), (2, 2), (9, 9)], labels=[1, 1, 1]), memo)
    assert seg.calls[3:] == [(3, 2)]  # only the new click was segmented


def test_the_command_line_keeps_the_order_clicks_were_typed_in():
    import app

    args = app.parse_args(["process", "in.mp4", "--out", "o", "--point", "1,2", "--negative", "3,4",
                           "--point", "5,6", "--point", "7,8@2", "--frame", "0"])
    prompts = app.build_prompts(args)[0]
    assert [(o.object_id, o.points, o.labels) for o in prompts] == [
        (1, [(1.0, 2.0), (3.0, 4.0), (5.0, 6.0)], [1, 0, 1]), (2, [(7.0, 8.0)], [1])]
    assert app.parse_args(["process", "in.mp4", "--out", "o"]).point == []  # no default shared between parses


def test_timecode_counts_on_in_drop_frame_and_non_drop_frame():
    from fractions import Fraction

    from core.timecode import timecode_at

    ntsc = Fraction(30000, 1001)
    assert timecode_at("01:02:03;04", 0, ntsc) == "01:02:03;04"
    assert timecode_at("00:00:59;29", 1, ntsc) == "00:01:00;02"  # ;00 and ;01 are skipped each minute
    assert timecode_at("00:09:59;29", 1, ntsc) == "00:10:00;00"  # but not each tenth
    assert timecode_at("00:00:59;59", 1, Fraction(60000, 1001)) == "00:01:00;04"
    assert timecode_at("00:00:59:29", 1, ntsc) == "00:01:00:00"  # written non-drop: counted so
    assert timecode_at("10:00:00:00", 25, Fraction(25)) == "10:00:01:00"
    assert timecode_at("23:59:59:24", 1, Fraction(25)) == "00:00:00:00"
    # an hour of NTSC frames by drop-frame count is an hour of the clock, to within its 3.6 ms
    assert timecode_at("00:00:00;00", round(3600 * 30000 / 1001), ntsc) == "01:00:00;00"
    for a, b in ((0, 1799), (1798, 2), (17980, 17983), (5, 107892)):  # steps add up
        assert timecode_at(timecode_at("00:00:00;00", a, ntsc), b, ntsc) == timecode_at("00:00:00;00", a + b, ntsc)


def test_grain_is_told_from_texture_and_edges():
    """core/grain.py measures noise, not detail: a picture of hard edges, shading and coarse texture
    measures next to nothing and is left alone; the same with noise of sigma 12 measures about 12
    and is smoothed; a GIF's own smoothing stays small (the outputs show it)."""
    import cv2

    from core.grain import GIF_SMOOTH, GRAINY, gif_smoothing, pixel_noise, smoothing_for, without_grain

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:360, 0:640].astype(np.float32)
    picture = np.stack([40 + 0.2 * xx, 40 + 0.4 * yy, 100 + 40 * np.sin(xx / 9)], -1)
    picture += cv2.resize(rng.normal(0, 15, (36, 64, 3)).astype(np.float32), (640, 360))
    for k in range(12):  # hard-edged shapes
        cv2.rectangle(picture, (40 * k, 20 * k), (40 * k + 60, 20 * k + 90), (210 - 14 * k, 40 + 14 * k, 120), -1)
    clean = np.clip(picture, 0, 255).astype(np.uint8)
    noisy = np.clip(picture + rng.normal(0, 12, (360, 640, 1)), 0, 255).astype(np.uint8)  # in brightness
    assert pixel_noise(clean) < 1.5 and smoothing_for(clean) == 0.0 and without_grain(clean) is clean
    assert 9.0 < pixel_noise(noisy) < 15.0 and pixel_noise(noisy) > GRAINY
    assert 0.9 <= smoothing_for(noisy) <= 1.2 and gif_smoothing(noisy) == GIF_SMOOTH
    assert pixel_noise(without_grain(noisy)) < 0.5 * pixel_noise(noisy)
    assert pixel_noise(np.zeros((2, 2, 3), np.uint8)) == 0.0  # too small to measure: no grain
