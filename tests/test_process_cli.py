"""End to end: `python app.py process` on small generated clips, checking the files a user gets."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import media
import numpy as np
import pytest
from PIL import Image

import app
from app_config import get_settings
from core.audio_processor import audio_onsets_s
from core.exceptions import JobCancelledError
from core.job import JobRequest
from core.video_io import probe
from core.video_processor import run_job
from core.video_reader import VideoReader
from models.base import ObjectPrompt

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def lower_left_mask(path: Path, width: int, height: int) -> Path:
    """A mask over the lower-left area of the test pattern (where the 'up' mark is)."""
    mask = np.zeros((height, width), np.uint8)
    mask[height // 3 :, : width // 2] = 255
    cv2.imwrite(str(path), mask)
    return path


def run_cli(*args: str) -> int:
    return app.main(["process", *map(str, args), "--quiet"])


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(float(f.pts * s.time_base) for f in c.decode(s))


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def flash_clip(path: Path, flashes: list[int], frames: int = 50, **options) -> Path:
    """A 96x64 clip at 25 fps whose picture flashes on ``flashes`` and whose sound clicks there."""
    return media.make_video(path, width=96, height=64, frames=frames, fps=25, audio="click",
                            flash_frames=flashes, **options)


def assert_flashes_heard_in_time(video: Path, flashes: list[int], sound: Path | None = None) -> None:
    """The picture flashes on exactly the frames ``flashes`` of ``video``, and each click of the sound
    of ``sound`` (default: the same file) starts within a frame (1/25 s) of its flash."""
    frames = decoded_frames(video)
    assert [i for i, rgb in enumerate(frames) if media.is_flash(rgb)] == flashes
    times = frame_times(video)
    onsets = audio_onsets_s(sound or video)
    assert len(onsets) == len(flashes)
    assert max(abs(a - times[f]) for a, f in zip(onsets, flashes, strict=True)) < 1 / 25


def test_clip_with_audio_keeps_frames_rate_duration_and_sync(tmp_path):
    flashes = [6, 25, 41]
    clip = flash_clip(tmp_path / "in.mp4", flashes)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "12", "--matte-frames") == 0
    src, comp = probe(clip), probe(out / "composite.mp4")
    assert comp.frame_count == src.frame_count == 50
    assert comp.fps == src.fps and abs(comp.duration_s - src.duration_s) < 1 / 25
    assert comp.has_audio and comp.audio_codec == "aac"
    # sync: each click in the output's sound starts at the frame where the picture flashes
    times = frame_times(out / "composite.mp4")
    frames = decoded_frames(out / "composite.mp4")
    flash_out = [times[i] for i, rgb in enumerate(frames) if media.is_flash(rgb)]
    assert len(flash_out) == len(flashes)
    onsets = audio_onsets_s(out / "composite.mp4")
    assert len(onsets) == len(flashes)
    assert max(abs(a - v) for a, v in zip(onsets, flash_out, strict=True)) < 1 / 25
    # the matte: one 8-bit grey PNG per frame, the input's size, values spanning the range
    pngs = sorted((out / "alpha").glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["000000.png", "000001.png"] and len(pngs) == 50
    alpha = cv2.imread(str(pngs[12]), cv2.IMREAD_UNCHANGED)
    assert alpha.dtype == np.uint8 and alpha.shape == (64, 96)
    assert alpha.min() == 0 and alpha.max() == 255
    report = json.loads((out / "report.json").read_text())
    assert report["engine"] == "embedded" and "embedded" in report["engine_reason"]
    assert report["frames"] == 50 and report["prompt_frame"] == 12
    for stage in ("decode", "segment", "matte", "compose", "encode", "audio"):
        assert stage in report["seconds"]
    assert report["processing_fps"] > 0 and report["peak_rss_mb"] > 0
    # the first frame waits for the clicks' mask and the 12 frames matted backwards
    assert report["seconds"]["segment"] < report["first_frame_s"] < report["seconds"]["total"]
    assert report["fps_after_first_frame"] > 0
    assert probe(out / "alpha.mp4").frame_count == 50
    webm = probe(out / "foreground.webm")
    assert webm.frame_count == 50 and webm.codec == "vp9"
    # the transparent file carries the sound too (Opus: WebM takes no AAC), as much in sync
    assert webm.has_audio and webm.audio_codec == "opus"
    webm_onsets = audio_onsets_s(out / "foreground.webm")
    assert max(abs(a - v) for a, v in zip(webm_onsets, flash_out, strict=True)) < 1 / 25
    assert report["audio"] == "copy"
    assert report["audio_by_file"] == {"composite.mp4": "copy", "foreground.webm": "transcode"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["composite.mp4", "alpha.mp4", "foreground.webm", "report.json", "alpha"])


def test_an_mpeg_ts_clip_keeps_its_frames_in_order_and_its_sound_in_sync(tmp_path):
    """A camcorder's .m2ts / broadcast .ts: its clock starts late and its seeks land late."""
    flashes = [3, 25, 41]
    clip = flash_clip(tmp_path / "in.ts", flashes)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "30", "--matte-frames") == 0
    assert probe(out / "composite.mp4").frame_count == 50
    assert_flashes_heard_in_time(out / "composite.mp4", flashes)


def test_a_flash_video_that_cannot_seek_to_its_start_is_processed_whole(tmp_path):
    """An FLV without a keyframe index (Sorenson video as FFmpeg writes it by default) refuses a seek
    to its start ("operation not permitted"): it was an internal error at the probe. It is read by
    opening it again; a prompt mid-clip makes the backward pass seek too."""
    flashes = [3, 25, 41]
    clip = flash_clip(tmp_path / "in.flv", flashes, codec="flv", audio_codec="libmp3lame", audio_rate=44100)
    with av.open(str(clip)) as container, pytest.raises(av.FFmpegError):
        container.seek(0)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "30") == 0
    assert probe(out / "composite.mp4").frame_count == 50
    assert_flashes_heard_in_time(out / "composite.mp4", flashes)


def test_an_avi_with_b_frames_keeps_every_frame_in_its_place_and_its_sound_in_sync(tmp_path):
    """An AVI keeps no presentation times: FFmpeg guesses them from the decoding order, and with
    B-frames (H.264 copied into an AVI, a dashcam's) the guesses come out shuffled. Read by their
    times, a third of the frames were "damaged" and shown as their neighbours, and the flashes landed
    a frame late: the decoder's own order is the frames' order."""
    flashes = [5, 17, 30]
    clip = media.make_video(tmp_path / "in.avi", width=96, height=64, frames=40, fps=25, gop=20, audio="click",
                            audio_codec="pcm_s16le", flash_frames=flashes)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "25") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 40 and not report["warnings"], report["warnings"]
    assert_flashes_heard_in_time(out / "composite.mp4", flashes)
    assert probe(clip).frames_in_order


def _wrapped_ts(src: Path, dst: Path, before_wrap_s: float) -> Path:
    """``src`` remuxed into an MPEG-TS whose 33-bit clock wraps round ``before_wrap_s`` seconds in."""
    offset, tb = 2**33 - round(before_wrap_s * 90000), Fraction(1, 90000)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mpegts") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            was = packet.time_base
            packet.pts, packet.dts = (offset + round(t * was / tb) for t in (packet.pts, packet.dts))
            packet.duration, packet.time_base = round((packet.duration or 0) * was / tb), tb
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def test_a_broadcast_recorded_across_the_clocks_wrap_is_processed_whole(tmp_path):
    """An MPEG-TS clock wraps round every 26.5 hours; across the wrap FFmpeg gives the frames before it
    negative times, and a seek to 0 (the probe's, for the first frame) landed after them: "no
    decodable frames" (E104), or the frames before the wrap lost."""
    flashes = [3, 25, 41]
    clip = _wrapped_ts(flash_clip(tmp_path / "in.mp4", flashes), tmp_path / "in.ts", 1.0)
    with av.open(str(clip)) as container:
        assert next(p.pts for p in container.demux(video=0) if p.size) < 0  # as FFmpeg reads it
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "30") == 0
    assert probe(out / "composite.mp4").frame_count == 50
    assert_flashes_heard_in_time(out / "composite.mp4", flashes)


def test_a_file_cut_in_the_middle_of_a_group_of_pictures_starts_at_its_first_whole_frame(tmp_path):
    """Frames whose references were cut away cannot be decoded: counting them put every later frame
    at the wrong index (a prompt on the wrong picture, the sound early by their length)."""
    flashes = [14, 25, 41]
    whole = flash_clip(tmp_path / "whole.ts", flashes, gop=10)
    clip = media.drop_leading_video_packets(whole, tmp_path / "cut.ts", 4)
    info = probe(clip)
    assert info.frame_count == 40 and info.undecodable_lead == 6  # 4 packets gone, 6 more frames lost
    gone = 10  # the picture the output starts with is the whole clip's frame 10, its next keyframe
    assert media.decode_index(VideoReader(clip, info).read_frame(0)) == gone
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "20") == 0
    assert len(decoded_frames(out / "composite.mp4")) == 40
    assert_flashes_heard_in_time(out / "composite.mp4", [f - gone for f in flashes])
    report = json.loads((out / "report.json").read_text())
    assert any("first 6 frames" in w for w in report["warnings"])


def test_the_cameras_timecode_goes_on_to_every_video_output(tmp_path):
    """An editor lines the outputs up with the camera original by timecode: each output starts at
    the timecode of its own first frame (here 15 frames into a drop-frame NTSC clip)."""
    clip = media.make_video(tmp_path / "cam.mov", width=96, height=64, frames=40, fps=Fraction(30000, 1001),
                            audio="sine", timecode="01:00:59;20")
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--trim-start", "0.5",
                   "--formats", "composite.mp4,alpha.mp4,foreground.webm,foreground.mov") == 0
    assert json.loads((out / "report.json").read_text())["input"]["timecode"] == "01:00:59;20"
    for name in ("composite.mp4", "alpha.mp4", "foreground.webm", "foreground.mov"):
        assert probe(out / name).timecode == "01:01:00;07", name  # 59;20 + 15 frames: ;00 and ;01 skipped
    plain = media.make_video(tmp_path / "plain.mp4", width=96, height=64, frames=6)
    assert run_cli(plain, "--out", tmp_path / "o2", "--point", "20,50", "--formats", "composite.mp4") == 0
    assert probe(tmp_path / "o2" / "composite.mp4").timecode is None


def test_every_output_keeps_when_and_where_the_clip_was_made(tmp_path):
    """A phone clip's creation date is how editors and photo libraries sort it, and its location
    and title go with it: every video output carries the source's own tags (an output without
    them landed on the day it was processed), not the tags about how the source file was written."""
    tags = {"creation_time": "2024-05-06T07:08:09.000000Z", "title": "Beach day", "location": "+37.7749-122.4194/"}
    clip = media.make_video(tmp_path / "phone.mp4", width=96, height=64, frames=12, audio="sine", tags=tags)
    assert probe(clip).tags["creation_time"] == tags["creation_time"]
    out = tmp_path / "out"
    names = ("composite.mp4", "alpha.mp4", "foreground.webm", "foreground.mov", "greenscreen.mp4")
    assert run_cli(clip, "--out", out, "--point", "20,50", "--formats", ",".join(names)) == 0
    for name in names:  # with sound (remuxed) and without (the matte)
        with av.open(str(out / name)) as container:
            kept = {k.lower(): v for k, v in container.metadata.items()}
        assert all(kept.get(k) == v for k, v in tags.items()), (name, kept)
        if name.endswith(".webm"):  # the MP4's brand is not carried into a WebM
            assert "major_brand" not in kept and "compatible_brands" not in kept, kept


@pytest.mark.parametrize("suffix", [".webm", ".mkv"])
def test_a_file_cut_short_is_processed_to_its_cut_and_the_report_says_so(tmp_path, suffix):
    """A WebM or MKV whose download stopped plays up to the cut, its header still giving the whole
    length: the outputs are the frames there are, and the report says the file looks cut short
    (a person who did not check the length got a shorter video and no word why)."""
    codec = "libvpx-vp9" if suffix == ".webm" else "libx264"
    whole = flash_clip(tmp_path / f"whole{suffix}", [3, 40], frames=60, codec=codec,
                       audio_codec="libopus" if suffix == ".webm" else "aac")
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 6 // 10])
    there = probe(cut).frame_count
    assert 10 < there < 50 and probe(whole).said_s is None
    out = tmp_path / "out"
    assert run_cli(cut, "--out", out, "--point", "20,50") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == there == probe(out / "composite.mp4").frame_count
    notes = [w for w in report["warnings"] if "looks cut short" in w]
    assert len(notes) == 1 and "says it lasts 2.4 s" in notes[0], report["warnings"]
    assert run_cli(whole, "--out", tmp_path / "whole-out", "--point", "20,50") == 0
    assert not json.loads((tmp_path / "whole-out" / "report.json").read_text())["warnings"]


def test_a_damaged_file_is_processed_whole_with_its_sound_in_sync(tmp_path):
    flashes = [6, 25]
    clip = flash_clip(tmp_path / "in.mp4", flashes, frames=30, gop=1)
    media.damage_frame(clip, 13)
    for packet in (20, 21, 22):  # 64 ms of sound from about 0.43 s: between the two clicks
        media.damage_frame(clip, packet, kind="audio")
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "10") == 0
    frames = decoded_frames(out / "composite.mp4")
    assert len(frames) == 30
    assert np.abs(frames[13].astype(int) - frames[12]).mean() < 1  # the frame before it, again
    assert_flashes_heard_in_time(out / "composite.mp4", flashes)
    # the WebM's sound is decoded and encoded again: the damaged audio packets are a gap, not a shift
    assert_flashes_heard_in_time(out / "composite.mp4", flashes, sound=out / "foreground.webm")
    report = json.loads((out / "report.json").read_text())
    assert any("1 frame could not be decoded (13)" in w for w in report["warnings"])


def test_a_clip_that_changes_its_picture_size_is_scaled_to_its_first_size(tmp_path):
    """A browser's or a video call's recording can change size mid-way; the job used to stop with
    E200 ('frame is 48x32 but tracking started at 96x64')."""
    big = media.make_video(tmp_path / "big.ts", width=96, height=64, frames=10)
    small = media.make_video(tmp_path / "small.ts", width=48, height=32, frames=10)
    clip = media.join_clips([big, small], tmp_path / "joined.ts")
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "12", "--matte-frames") == 0
    frames = decoded_frames(out / "composite.mp4")
    assert len(frames) == 20 and {f.shape for f in frames} == {(64, 96, 3)}
    mattes = sorted((out / "alpha").glob("*.png"))
    assert len(mattes) == 20 and cv2.imread(str(mattes[15]), cv2.IMREAD_UNCHANGED).shape == (64, 96)
    report = json.loads((out / "report.json").read_text())
    assert any("48x32 from frame 10" in w and "scaled to 96x64" in w for w in report["warnings"])


def test_an_anamorphic_clip_keeps_its_pixel_aspect_and_its_background_is_not_stretched(tmp_path):
    """Widescreen PAL (720x576 stored, shown 1024x576): the outputs carry the pixel aspect, and a
    background picture is fitted to what the viewer sees, so a circle on it stays round."""
    sar = Fraction(64, 45)
    clip = media.make_video(tmp_path / "pal.mp4", width=90, height=72, frames=6, audio="sine", sample_aspect=sar)
    picture = np.full((200, 250, 3), 255, np.uint8)
    cv2.circle(picture, (125, 100), 60, (0, 0, 0), -1)
    cv2.imwrite(str(tmp_path / "circle.png"), picture)
    out = tmp_path / "out"
    formats = "composite.mp4,alpha.mp4,foreground.webm,foreground.mov,greenscreen.mp4,foreground.webp"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--background", f"image:{tmp_path / 'circle.png'}",
                   "--formats", formats) == 0
    for name in ("composite.mp4", "alpha.mp4", "greenscreen.mp4", "foreground.mov"):
        assert probe(out / name).sample_aspect == sar, name
    # WebM and WebP cannot say their pixels are wide: they are written as wide as the clip is shown
    webm = probe(out / "foreground.webm")
    assert (webm.width, webm.height, webm.sample_aspect) == (128, 72, 1)  # 90 x 64/45 = 128: 5:4 squeezed before
    assert Image.open(out / "foreground.webp").size == (128, 72)
    report = json.loads((out / "report.json").read_text())
    assert report["input"]["sample_aspect"] == "64:45"
    assert any("foreground.webm: written 128x72 with square pixels" in w for w in report["warnings"])
    # the background is the picture fitted for 64:45 pixels, in which the circle, shown, is round
    from core.compositing import fit_cover

    fitted = fit_cover(picture, 90, 72, pixel_aspect=float(sar))
    rows, cols = np.nonzero(fitted[:, :, 0] < 128)
    assert abs((cols.max() - cols.min() + 1) * float(sar) - (rows.max() - rows.min() + 1)) <= 2
    first = decoded_frames(out / "composite.mp4")[0].astype(int)
    alpha = decoded_frames(out / "alpha.mp4")[0][:, :, 0]
    behind = alpha < 2
    assert behind.mean() > 0.3 and np.abs(first - fitted)[behind].mean() < 8


def test_no_audio_odd_size_ntsc_rate_and_transparent_formats(tmp_path):
    clip = media.make_video(tmp_path / "odd.mp4", width=81, height=61, frames=24, fps=Fraction(30000, 1001),
                            pix_fmt="yuv444p")  # 4:4:4 H.264 can hold an odd size
    mask = lower_left_mask(tmp_path / "m.png", 81, 61)
    out = tmp_path / "out"
    formats = "composite.mp4,alpha.mp4,foreground.webm,foreground.mov,greenscreen.mp4,foreground.webp"
    assert run_cli(clip, "--out", out, "--mask", mask, "--formats", formats, "--background", "color:#203040") == 0
    sticker, shown_ms = Image.open(out / "foreground.webp"), 0
    for i in range(sticker.n_frames):  # libwebp merges a frame into the one before when it is the same
        sticker.seek(i)
        alpha = np.asarray(sticker.convert("RGBA"))[..., 3]
        shown_ms += sticker.info["duration"]
        assert alpha.max() > 250 and alpha.min() < 5  # a transparent sticker
    assert sticker.size == (81, 61) and abs(shown_ms / 1000 - probe(clip).duration_s) < 0.005
    comp = probe(out / "composite.mp4")
    assert comp.fps == Fraction(30000, 1001) and comp.frame_count == 24 and not comp.has_audio
    assert abs(comp.duration_s - probe(clip).duration_s) < 1001 / 30000
    mov, webm = probe(out / "foreground.mov"), probe(out / "foreground.webm")
    assert (mov.width, mov.height) == (81, 61) == (webm.width, webm.height)  # exact odd size kept
    with av.open(str(out / "foreground.mov")) as c:
        rgba = next(c.decode(video=0)).to_ndarray(format="rgba")
    assert rgba[..., 3].max() > 250 and rgba[..., 3].min() < 5  # real transparency
    # under alpha 0 the subject's colours spread out, not the clip's background (none of it is in the file)
    hidden, source = rgba[..., 3] == 0, decoded_frames(clip)[0].astype(np.float32)
    behind, kept = source[hidden], rgba[..., :3][hidden].astype(np.float32)
    assert hidden.mean() > 0.3 and kept.std(axis=0).max() < 0.5 * behind.std(axis=0).max()
    assert abs(np.corrcoef(kept.sum(axis=1), behind.sum(axis=1))[0, 1]) < 0.5
    report = json.loads((out / "report.json").read_text())
    assert any("pad" in w.lower() for w in report["warnings"])  # H.264's even size is reported
    assert report["audio"] == "none"


@pytest.mark.parametrize(("width", "height"), [(960, 24), (24, 960)])
def test_a_banner_clip_far_wider_than_high_is_processed(tmp_path, width, height):
    """A web banner or a ticker strip: at the engine's working sizes its short side is a few pixels,
    and the optical flow refused a frame under about 10 px a side (an internal error, E900)."""
    clip = media.make_video(tmp_path / "banner.mp4", width=width, height=height, frames=8)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", f"{width // 2},{height // 2}",
                   "--formats", "composite.mp4,alpha.mp4,foreground.webm") == 0
    info = probe(out / "alpha.mp4")
    assert (info.width, info.height, info.frame_count) == (width, height, 8)


def test_rotated_clip_is_processed_upright(tmp_path):
    clip = media.make_video(tmp_path / "rot.mp4", width=64, height=96, frames=12, rotation=90)
    mask = lower_left_mask(tmp_path / "m.png", 64, 96)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--mask", mask, "--background", "color:#000000") == 0
    comp = probe(out / "composite.mp4")
    assert (comp.width, comp.height) == (64, 96) and comp.rotation == 0
    first = decoded_frames(out / "composite.mp4")[0]
    assert media.has_upright_mark(first)


def test_variable_frame_rate_timestamps_kept(tmp_path):
    pts = [0, 40, 80, 200, 240, 400, 440, 480]
    clip = media.make_video(tmp_path / "vfr.mp4", frames=len(pts), pts=pts, time_base=Fraction(1, 1000), fps=25)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "30,30", "--formats", "composite.mp4") == 0
    assert frame_times(out / "composite.mp4") == pytest.approx(frame_times(clip), abs=1e-3)


def test_trim_corrections_and_two_subjects(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=40, fps=20, audio="sine")
    out = tmp_path / "out"
    code = run_cli(clip, "--out", out, "--point", "20,50", "--point", "70,50@2", "--negative", "50,20",
                   "--frame", "15", "--correct", "30:25,45", "--trim-start", "0.5", "--trim-end", "1.75",
                   "--formats", "composite.mp4")
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["trim"] == [10, 35] and report["correction_frames"] == [30]
    comp = probe(out / "composite.mp4")
    assert comp.frame_count == 25 and comp.has_audio
    assert abs(comp.duration_s - 25 / 20) < 1 / 20


def _dumbbell(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``media.still_scene`` with two pale discs joined by a dark blue bar, drifting right: frame
    ``i``, the whole subject's mask and the bar's (bool)."""
    frame = media.still_scene()
    x = 120 + 3 * i
    discs, bar = np.zeros((216, 384), np.uint8), np.zeros((216, 384), np.uint8)
    for cx in (x, x + 110):
        cv2.circle(discs, (cx, 110), 26, 1, -1)
    cv2.rectangle(bar, (x + 22, 100), (x + 88, 120), 1, -1)
    frame[discs > 0] = (230, 226, 218)
    frame[bar > 0] = (30, 40, 150)
    return frame, (discs | bar) > 0, bar > 0


def test_a_correction_that_cuts_a_subject_in_two_keeps_both_parts(tmp_path, monkeypatch):
    """A 'not subject' click that takes the middle out of a subject leaves two things apart, each of
    which needs a matter of its own from that frame: made after the look at the clip was put away,
    it ended the job as an internal error ("the clip's samples are closed"; dog.mp4, the dog cut in
    two by a click on its middle). The click's selection is the bar here (the segmenter, given the
    whole dumbbell's colours, would take all of it: the subject would simply be gone)."""
    from models.base import SegmentResult
    from models.embedded_segmenter import EmbeddedSegmenter

    frames = [_dumbbell(i) for i in range(24)]
    clip = media.write_frames(tmp_path / "dumbbell.mp4", [f for f, _, _ in frames])
    mask = tmp_path / "mask.png"
    cv2.imwrite(str(mask), frames[0][1].astype(np.uint8) * 255)
    bar_x = 120 + 3 * 12 + 55
    segment = EmbeddedSegmenter.segment

    def the_bar_under_the_click(self, prompt, previous=None):
        if prompt.points and tuple(prompt.points[0]) == (bar_x, 110):
            return SegmentResult(mask=frames[12][2].copy(), score=1.0)
        return segment(self, prompt, previous)

    monkeypatch.setattr(EmbeddedSegmenter, "segment", the_bar_under_the_click)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--mask", mask, "--correct", f"12:-{bar_x},110", "--formats", "alpha.mp4",
                   "--matte-frames", "--engine", "embedded") == 0
    for i in (16, 22):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        _, subject, bar = frames[i]
        discs = subject & ~bar
        assert (alpha & discs).sum() > 0.9 * discs.sum(), i  # both discs kept, each by a matter of its own
        assert (alpha & bar).sum() < 0.2 * bar.sum(), i  # the bar taken out


def test_a_second_job_in_the_same_folder_says_which_files_are_not_its_own(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=6)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--formats", "composite.mp4,greenscreen.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert not any("earlier job" in w for w in report["warnings"])
    (out / "notes.txt").write_text("mine")
    assert run_cli(clip, "--out", out, "--point", "20,50", "--formats", "composite.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert any("greenscreen.mp4 of an earlier job" in w for w in report["warnings"])
    assert not any("notes.txt" in w for w in report["warnings"])  # only names a job writes
    assert (out / "greenscreen.mp4").exists() and (out / "notes.txt").read_text() == "mine"  # nothing deleted
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), media.frame_pattern(0, 96, 64))
    assert run_cli(photo, "--out", out, "--point", "20,50") == 0
    report = json.loads((out / "report.json").read_text())
    assert any("composite.mp4, greenscreen.mp4 of an earlier job" in w for w in report["warnings"])


def test_frames_may_be_given_by_the_time_they_are_on_screen(tmp_path):
    """A player shows a clock, not frame numbers: --frame 0.5s and --correct 1.02s:X,Y at 25 fps are
    frames 12 (on screen 0.48-0.52 s) and 25 (1.00-1.04 s)."""
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=40, fps=25)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--frame", "0.5s", "--correct", "1.02s:25,45",
                   "--formats", "composite.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["prompt_frame"] == 12 and report["correction_frames"] == [25]
    assert app.main(["process", str(clip), "--out", str(tmp_path / "o2"), "--point", "20,50", "--frame", "2.5s",
                     "--quiet"]) == 2  # past the end (1.6 s): a coded error
    assert app.main(["process", str(clip), "--out", str(tmp_path / "o3"), "--point", "20,50", "--frame", "soon",
                     "--quiet"]) == 2


def test_a_trim_without_frame_prompts_on_its_first_frame(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=96, height=64, frames=40, fps=20)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "20,50", "--trim-start", "0.5", "--formats", "composite.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["trim"] == [10, 40] and report["prompt_frame"] == 10
    # a prompt frame given outside the trim is still the person's mistake, said with a hint
    assert run_cli(clip, "--out", tmp_path / "o2", "--point", "20,50", "--frame", "3", "--trim-start", "0.5") == 2


def test_an_hdr_clip_is_processed_and_the_report_says_it_is_hdr(tmp_path):
    clip = media.make_video(tmp_path / "pq.mp4", frames=8, pix_fmt="yuv420p10le", color_trc=16)
    assert probe(clip).hdr == "PQ" and probe(clip).bit_depth == 10
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--point", "30,30", "--formats", "composite.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["input"]["hdr"] == "PQ"
    assert any("HDR (PQ)" in w and "tone mapped to SDR" in w for w in report["warnings"])
    assert probe(out / "composite.mp4").hdr is None  # SDR out, and tagged so


def test_photo_gives_cutout_and_composite(tmp_path):
    img = np.full((60, 80, 3), 30, np.uint8)
    cv2.circle(img, (40, 30), 18, (250, 200, 40), -1)
    photo = tmp_path / "p.jpg"
    cv2.imwrite(str(photo), img)
    out = tmp_path / "out"
    assert run_cli(photo, "--out", out, "--point", "40,30", "--background", "color:#0000ff") == 0
    cut = cv2.imread(str(out / "cutout.png"), cv2.IMREAD_UNCHANGED)
    comp = cv2.imread(str(out / "composite.png"))
    assert cut.shape == (60, 80, 4) and comp.shape == (60, 80, 3)
    assert cut[30, 40, 3] > 200 and cut[3, 3, 3] < 30
    assert comp[3, 3, 0] > 200 and comp[3, 3, 2] < 30  # BGR: blue background in the corner
    # a trim and every frame's matte are for videos: said, not applied (a trim moved the prompt off
    # the photo's one frame: E204 "prompt frame 1 is outside the clip")
    assert run_cli(photo, "--out", tmp_path / "out2", "--point", "40,30", "--trim-start", "1", "--matte-frames") == 0
    report = json.loads((tmp_path / "out2" / "report.json").read_text())
    assert report["warnings"][-1].startswith("a photo: --trim-start/--trim-end, --matte-frames apply to videos only")
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["composite.png", "cutout.png", "report.json"]


def test_a_photos_outputs_keep_its_colour_profile_and_exif(tmp_path):
    """A phone's photo is in Display P3 and says so in its colour profile: written without it, the
    cutout was read as sRGB, duller than the photo. Its EXIF (when it was taken, where, with what)
    goes on too, with the orientation upright, as the pixels now are; a profile that does not fit
    RGB pixels (a CMYK print's) stays behind."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown upright after a quarter turn
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8769)[0x9003] = "2023:01:02 03:04:05"  # taken at
    picture = np.full((60, 80, 3), (40, 90, 160), np.uint8)
    picture[20:40, 30:50] = (230, 60, 40)
    photo = tmp_path / "phone.jpg"
    Image.fromarray(picture).save(photo, icc_profile=profile, exif=exif.tobytes())
    out = tmp_path / "out"
    assert run_cli(photo, "--out", out, "--point", "30,40", "--background", "color:#ffffff") == 0
    for name in ("cutout.png", "composite.png"):
        with Image.open(out / name) as written:
            kept = written.getexif()
            assert written.size == (60, 80) and written.info.get("icc_profile") == profile, name
            assert kept[0x0112] == 1 and kept[0x010F] == "PhoneMaker"
            assert kept.get_ifd(0x8769)[0x9003] == "2023:01:02 03:04:05"
    cmyk = tmp_path / "print.jpg"
    Image.fromarray(picture).save(cmyk, icc_profile=profile[:16] + b"CMYK" + profile[20:])
    assert run_cli(cmyk, "--out", tmp_path / "out2", "--point", "30,40") == 0
    with Image.open(tmp_path / "out2" / "cutout.png") as written:
        assert "icc_profile" not in written.info


def test_an_animated_png_or_webp_is_a_video_and_a_multi_page_tiff_a_photo_with_a_warning(tmp_path):
    """Pillow reads an animation's first frame only: an animated PNG (FFmpeg decodes it) and an
    animated WebP (core/animated_webp.py: FFmpeg here decodes only its first picture) are processed
    as the clips they are, each frame lasting as long as in the file; a multi-page TIFF gives the
    photo outputs of its first page, and the report says so."""
    pictures = [Image.fromarray(media.frame_pattern(i, 64, 48)) for i in range(6)]
    durations = [100, 100, 200, 50, 100, 150]
    for name, outputs in (("anim.png", {"composite.mp4", "alpha.mp4"}), ("anim.webp", {"composite.mp4", "alpha.mp4"}),
                          ("pages.tif", {"cutout.png"})):
        path = tmp_path / name
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
        out = tmp_path / f"out-{path.suffix[1:]}"
        assert run_cli(path, "--out", out, "--point", "32,40", "--background", "color:#0000ff") == 0
        report = json.loads((out / "report.json").read_text())
        assert outputs <= {p.name for p in out.iterdir()}
        if name == "pages.tif":
            assert report["frames"] == 1 and any("holds 6 pictures" in w for w in report["warnings"])
            continue
        composite = probe(out / "composite.mp4")
        assert report["frames"] == 6 and composite.frame_count == 6 and probe(out / "alpha.mp4").frame_count == 6
        assert abs(composite.duration_s - sum(durations) / 1000) < 0.002, composite.duration_s  # 0.65 s before
    webp = json.loads((tmp_path / "out-webp" / "report.json").read_text())
    assert webp["input"]["codec"] == "webp (animated)" and webp["input"]["variable_frame_rate"]
    truncated = tmp_path / "cut.webp"  # an animation cut short: a coded error, nothing left in --out
    truncated.write_bytes((tmp_path / "anim.webp").read_bytes()[:-200])
    assert run_cli(truncated, "--out", tmp_path / "out-cut", "--point", "32,40") != 0
    assert not (tmp_path / "out-cut").exists() or not any((tmp_path / "out-cut").iterdir())


def test_a_dithered_gif_is_smoothed_as_it_is_read_and_its_subject_kept(tmp_path):
    """An animated GIF of a photograph is dithered (its 256 colours or fewer scattered into dots,
    anew in every frame): a click on the person selected a 13-pixel dot, and the job lost it at once
    (IoU 0 in every frame). Its frames are now smoothed as they are read (core/grain.py), and the
    report says so; a GIF of flat colours is read exactly as it is."""
    frames, masks, click = media.dithered_frames()
    pictures = [Image.fromarray(f) for f in frames]
    gif = tmp_path / "dithered.gif"
    pictures[0].save(gif, save_all=True, append_images=pictures[1:], duration=100, loop=0)
    out = tmp_path / "out"
    assert run_cli(gif, "--out", out, "--point", f"{click[0]},{click[1]}", "--matte-frames",
                   "--formats", "composite.mp4,alpha.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == len(frames) and probe(out / "composite.mp4").frame_count == len(frames)
    assert any("dithered GIF" in w and "smoothed by 0.8 px" in w for w in report["warnings"]), report["warnings"]
    assert report["input"]["smoothed_px"] == 0.8 and report["input"]["interlaced"] is False
    for i, mask in enumerate(masks):
        alpha = cv2.imread(str(out / "alpha" / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert np.count_nonzero(alpha & mask) / np.count_nonzero(alpha | mask) > 0.7, i  # 0.80-0.91; 0 before

    flat = [Image.fromarray(media.frame_pattern(i, 64, 48)) for i in range(4)]  # a cartoon's flat colours
    flat[0].save(tmp_path / "flat.gif", save_all=True, append_images=flat[1:], duration=100, loop=0)
    assert probe(tmp_path / "flat.gif").smoothing_px == 0.0
    with VideoReader(tmp_path / "flat.gif") as reader:
        assert np.array_equal(reader.read_frame(0), np.asarray(flat[0]))


def test_an_interlaced_clip_gives_outputs_without_combs(tmp_path):
    """A camcorder's interlaced clip: the outputs are progressive, so they are made from deinterlaced
    frames (the bar's edges were combs in the composite and the matte before), with the same frames,
    times and length, and the report says so."""
    clip = media.make_interlaced_video(tmp_path / "camcorder.mp4")
    mask = np.zeros((120, 160), np.uint8)
    mask[:, 20:44] = 255
    cv2.imwrite(str(tmp_path / "bar.png"), mask)
    out = tmp_path / "out"
    assert run_cli(clip, "--out", out, "--mask", tmp_path / "bar.png", "--background", "color:#203080",
                   "--formats", "composite.mp4,alpha.mp4") == 0
    report = json.loads((out / "report.json").read_text())
    assert any("is interlaced: its frames are deinterlaced" in w for w in report["warnings"]), report["warnings"]
    assert report["input"]["interlaced"] is True and report["input"]["smoothed_px"] == 0.0
    composite = probe(out / "composite.mp4")
    assert composite.frame_count == 12 and abs(composite.duration_s - probe(clip).duration_s) < 1e-3
    frames = decoded_frames(out / "composite.mp4")
    assert max(media.comb(f) for f in frames) < 2.0, [round(media.comb(f), 1) for f in frames]  # 5-8 before


def test_clicks_that_select_next_to_nothing_are_reported(tmp_path):
    """A click just beside the subject, on a plain wall, selects a few pixels: the job still runs,
    and its report says why the result is empty and what to do instead."""
    img = np.full((400, 300, 3), (160, 180, 200), np.uint8)
    cv2.circle(img, (150, 100), 60, (200, 40, 20), -1)
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), img)
    assert run_cli(photo, "--out", tmp_path / "beside", "--point", "100,150", "--background", "transparent") == 0
    warnings = json.loads((tmp_path / "beside" / "report.json").read_text())["warnings"]
    assert any("the clicks selected" in w and "click on the subject's middle" in w for w in warnings), warnings
    assert run_cli(photo, "--out", tmp_path / "on", "--point", "150,100", "--background", "transparent") == 0
    assert json.loads((tmp_path / "on" / "report.json").read_text())["warnings"] == []


def test_frames_where_the_subject_is_gone_are_reported(tmp_path):
    """The subject walks out of a still scene and stays out for 3 s: the report says which frames
    have no subject and where a correction click would go."""
    import av

    clip = tmp_path / "out-of-frame.mp4"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(40):
            img = np.full((64, 96, 3), (60, 110, 40), np.uint8)
            img[::6] = (70, 120, 50)
            if i < 8:
                cv2.circle(img, (30 + 12 * i, 32), 10, (230, 200, 60), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    out_dir = tmp_path / "out"
    assert run_cli(clip, "--out", out_dir, "--point", "30,32", "--formats", "alpha.mp4") == 0
    warnings = json.loads((out_dir / "report.json").read_text())["warnings"]
    gone = [w for w in warnings if w.startswith("no subject in frames ")]
    assert len(gone) == 1 and "-39 (" in gone[0] and "--correct" in gone[0], warnings
    first = int(gone[0].split("frames ")[1].split("-")[0])
    assert 7 <= first <= 12  # from about when it left


def test_cancel_stops_between_chunks_and_leaves_nothing(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=64, height=48, frames=60)
    out = tmp_path / "out"
    cancel = threading.Event()
    seen = []

    def progress(update):
        seen.append(update)
        if update.stage == "process":
            cancel.set()  # first progress of the forward pass: stop within one chunk

    request = JobRequest(input_path=clip, out_dir=out, prompts={0: [ObjectPrompt(points=[(30, 30)], labels=[1])]})
    with pytest.raises(JobCancelledError):
        run_job(request, progress=progress, cancel=cancel)
    assert seen and not out.exists()
    assert max(u.frame for u in seen if u.stage == "process") < 60


_STOPS_ITSELF = """
import os, signal, sys
import app
from models.embedded_matter import EmbeddedMatter
step, seen = EmbeddedMatter.step, []
def stepping(self, frame):
    seen.append(1)
    if len(seen) == 5:  # mid-job, as a scheduler or a closing terminal would
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    return step(self, frame)
EmbeddedMatter.step = stepping
sys.exit(app.main(["process", *sys.argv[2:], "--quiet"]))
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_job_told_to_stop_by_a_signal_is_cancelled_and_leaves_nothing(tmp_path, name):
    """``kill``, a job scheduler, a container stopping (SIGTERM) or a closed terminal (SIGHUP) stop a
    job as Ctrl-C does. By Python's default the process ended on the spot and the job's staging
    folder stayed in --out."""
    clip = media.make_video(tmp_path / "in.mp4", width=64, height=48, frames=40)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", _STOPS_ITSELF, name, str(clip), "--out", str(out), "--point", "30,30",
                           "--engine", "embedded"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "error E601: cancelled — nothing was written"
    assert not out.exists()


def test_the_matters_look_at_the_clip_runs_beside_segmentation(tmp_path, monkeypatch):
    """The still-camera plate decodes frames spread over the clip: that must not wait for the
    clicks to be segmented (nor they for it). Proof: segmentation waits for the look to start."""
    import core.prompt_segmenting as ps
    from models.embedded_matter import EmbeddedMatter

    clip = media.make_video(tmp_path / "in.mp4", width=64, height=48, frames=12)
    looking = threading.Event()
    seen = {}
    prepare, segment = EmbeddedMatter.prepare, ps.segment_objects

    def watched_prepare(self, samples):
        seen["prepare_thread"] = threading.current_thread().name
        looking.set()
        return prepare(self, samples)

    def waiting_segment(*args, **kwargs):
        seen["look_started_first"] = looking.wait(timeout=10)
        return segment(*args, **kwargs)

    monkeypatch.setattr(EmbeddedMatter, "prepare", watched_prepare)
    monkeypatch.setattr(ps, "segment_objects", waiting_segment)
    request = JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", formats=("alpha.mp4",),
                         prompts={0: [ObjectPrompt(points=[(30, 30)], labels=[1])]})
    run_job(request)
    assert seen == {"prepare_thread": "prepare", "look_started_first": True}
    assert (tmp_path / "out" / "alpha.mp4").exists()


def test_a_prompt_mid_clip_works_out_the_plates_once_for_both_matters(tmp_path, monkeypatch):
    """Forwards and backwards from frame 6, two matters look at the same clip: the median plates
    are worked out once and each matter gets its own copy (each changes it in place)."""
    import models.embedded_matter
    from models.embedded_matter import EmbeddedMatter

    clip = media.make_video(tmp_path / "in.mp4", width=64, height=48, frames=12)
    calls, prepared = [], []
    look_at, prepare = models.embedded_matter.look_at, EmbeddedMatter.prepare

    def counted_look_at(source, downscale):
        calls.append(threading.current_thread().name)
        return look_at(source, downscale)

    def kept_prepare(self, samples):
        prepare(self, samples)
        prepared.append(None if self._still is None else self._still.full_median)

    monkeypatch.setattr(models.embedded_matter, "look_at", counted_look_at)
    monkeypatch.setattr(EmbeddedMatter, "prepare", kept_prepare)
    request = JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", formats=("alpha.mp4",),
                         prompts={6: [ObjectPrompt(points=[(30, 30)], labels=[1])]})
    run_job(request)
    assert len(calls) == 1 and len(prepared) == 2
    backward, forward = prepared
    assert backward is not None and forward is not None, "the test clip's camera is still"
    assert backward is not forward and np.array_equal(backward, forward)
    assert (tmp_path / "out" / "alpha.mp4").exists()


def test_a_click_on_a_pale_dog_mattes_the_whole_dog(tmp_path):
    """The job's segmenter looks at the clip: with a still camera the whole moving dog is taken
    from a click on its one patch of colour (colours alone give the patch)."""
    from bench.metrics import iou

    frames, masks, click = media.pale_dog_frames()
    clip = media.write_frames(tmp_path / "dog.mp4", frames)
    request = JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded", formats=("alpha.mp4",),
                         matte_frames=True, prompts={0: [ObjectPrompt(points=[click], labels=[1])]})
    run_job(request)
    first = cv2.imread(str(tmp_path / "out" / "alpha" / "000000.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    assert iou(first, masks[0]) >= 0.9


def test_a_failing_look_at_the_clip_fails_the_job_cleanly(tmp_path, monkeypatch):
    from core.exceptions import TruncatedMediaError
    from models.embedded_matter import EmbeddedMatter

    clip = media.make_video(tmp_path / "in.mp4", width=64, height=48, frames=12)

    def broken(self, samples):
        samples.pair()  # the samples' own reader opens, and must be closed afterwards
        raise TruncatedMediaError("frame 7 cannot be decoded")

    monkeypatch.setattr(EmbeddedMatter, "prepare", broken)
    request = JobRequest(input_path=clip, out_dir=tmp_path / "out", engine="embedded",
                         prompts={0: [ObjectPrompt(points=[(30, 30)], labels=[1])]})
    with pytest.raises(TruncatedMediaError, match="frame 7"):
        run_job(request)
    assert not (tmp_path / "out").exists()
    assert not [t for t in threading.enumerate() if t.name in ("prepare", "decode")]


def test_subprocess_contract_exit_codes_and_one_line_errors(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", frames=8)
    ok = subprocess.run([sys.executable, "app.py", "process", str(clip), "--out", str(tmp_path / "o"),
                         "--point", "10,10", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outputs"]["composite.mp4"].endswith("composite.mp4")
    bad = subprocess.run([sys.executable, "app.py", "process", str(clip), "--out", str(tmp_path / "b"),
                          "--point", "999,10"], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in bad.stderr.strip().splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("error E201: ") and " — " in lines[0] and "Traceback" not in bad.stderr
    assert not (tmp_path / "b").exists()


def test_works_without_a_system_ffmpeg(tmp_path):
    """PyAV's bundled FFmpeg libraries do all the media work: no ffmpeg binary on PATH is needed."""
    import os
    import shutil

    clip = media.make_video(tmp_path / "in.mp4", frames=10, audio="sine")
    bare_path = str(Path(sys.executable).parent)  # the venv's bin only
    assert shutil.which("ffmpeg", path=bare_path) is None and shutil.which("ffprobe", path=bare_path) is None
    env = {**os.environ, "PATH": bare_path}
    done = subprocess.run([sys.executable, "app.py", "process", str(clip), "--out", str(tmp_path / "o"),
                           "--point", "10,10", "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert probe(tmp_path / "o" / "composite.mp4").has_audio
