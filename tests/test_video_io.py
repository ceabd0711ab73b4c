"""Probe, reader and writer on small synthetic clips (tests/media.py): facts, seeks, timestamps."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from bench.reference import transcode_baseline
from core.exceptions import (
    EmptyVideoError,
    FormatError,
    FrameOutOfRangeError,
    InputPathError,
    NotMediaError,
    NoVideoStreamError,
    TruncatedMediaError,
)
from core.video_io import VideoWriter, probe
from core.video_reader import VideoReader
from tests import media

NTSC = Fraction(30000, 1001)
VFR_PTS = [0, 33, 66, 120, 130, 200, 260, 300, 333, 400, 420, 480]  # ms: irregular steps


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("video_io")
    return {
        "plain": media.make_video(d / "plain.mp4", frames=40, gop=8, audio="sine"),
        "ntsc": media.make_video(d / "ntsc.mp4", frames=30, fps=NTSC),
        "vfr": media.make_video(d / "vfr.mp4", pts=VFR_PTS, time_base=Fraction(1, 1000)),
        "odd": media.make_video(d / "odd.mkv", width=321, height=241, frames=6, codec="ffv1"),
        "rot90": media.make_video(d / "rot90.mp4", width=48, height=64, frames=12, rotation=90),
        "rot270": media.make_video(d / "rot270.mp4", width=48, height=64, frames=12, rotation=270),
        "rot180": media.make_video(d / "rot180.mp4", width=64, height=48, frames=12, rotation=180),
        "ten_bit": media.make_video(d / "ten.mp4", frames=12, pix_fmt="yuv420p10le"),
        "webm": media.make_video(d / "clip.webm", frames=15, codec="libvpx-vp9"),
    }


def _indexes(frames) -> list[int]:
    return [media.decode_index(f.rgb) for f in frames]


# --- probe -----------------------------------------------------------------------------------
def test_probe_facts_of_a_plain_clip(clips):
    info = probe(clips["plain"])
    assert (info.width, info.height, info.frame_count) == (64, 48, 40)
    assert info.fps == 25 and isinstance(info.fps, Fraction)
    assert info.duration_s == pytest.approx(1.6)
    assert info.has_audio and info.audio_codec == "aac"
    assert (info.codec, info.pix_fmt, info.bit_depth, info.rotation, info.is_vfr) == ("h264", "yuv420p", 8, 0, False)
    assert len(info.frame_pts) == 40 and list(info.frame_pts) == sorted(info.frame_pts)


def test_probe_keeps_ntsc_rate_exact(clips):
    info = probe(clips["ntsc"])
    assert info.fps == NTSC
    assert info.duration_s == pytest.approx(30 * 1001 / 30000)
    assert not info.is_vfr


def test_probe_counts_frames_when_the_container_has_no_count(clips):
    with av.open(str(clips["webm"])) as c:
        assert c.streams.video[0].frames == 0  # WebM headers carry no frame count
    info = probe(clips["webm"])
    assert info.frame_count == 15 and info.fps == 25


def test_probe_detects_variable_frame_rate(clips):
    info = probe(clips["vfr"])
    assert info.is_vfr and info.frame_count == len(VFR_PTS)
    assert [info.time_of(i) for i in range(len(VFR_PTS))] == pytest.approx([p / 1000 for p in VFR_PTS])


def test_probe_rotation_gives_display_size(clips):
    for name, rotation in (("rot90", 90), ("rot270", 270)):
        info = probe(clips[name])
        assert (info.rotation, info.width, info.height) == (rotation, 48, 64)
    assert probe(clips["rot180"]).rotation == 180


def test_probe_reads_the_pixel_aspect_upright(tmp_path):
    """Anamorphic clips (widescreen PAL 64:45, HDV 4:3) show wider than they are stored."""
    wide = media.make_video(tmp_path / "pal.mp4", width=72, height=48, frames=3, sample_aspect=Fraction(64, 45))
    assert probe(wide).sample_aspect == Fraction(64, 45)
    turned = media.make_video(tmp_path / "turned.mp4", width=48, height=72, frames=3, rotation=90,
                              sample_aspect=Fraction(4, 3))
    assert probe(turned).sample_aspect == Fraction(3, 4)  # upright, a stored pixel's width is its height
    assert probe(tmp_path / "pal.mp4").sample_aspect != 1 and probe(turned).width == 48
    plain = media.make_video(tmp_path / "plain.mp4", frames=3)
    assert probe(plain).sample_aspect == 1


def test_probe_ten_bit(clips):
    info = probe(clips["ten_bit"])
    assert info.pix_fmt == "yuv420p10le" and info.bit_depth == 10


@pytest.mark.parametrize(
    ("maker", "error"),
    [
        (lambda d: media.make_random_bytes(d / "noise.mp4"), NotMediaError),
        (lambda d: media.make_truncated_mp4(d / "cut.mp4"), TruncatedMediaError),
        (lambda d: media.make_truncated_mp4(d / "cutfs.mp4", faststart=True), TruncatedMediaError),
        (lambda d: media.make_zero_frame_video(d / "zero.mkv"), EmptyVideoError),
        (lambda d: media.make_audio_only(d / "sound.m4a"), NoVideoStreamError),
        (lambda d: d / "missing.mp4", InputPathError),
        (lambda d: d, InputPathError),
        (lambda d: "https://example.com/clip.mp4", InputPathError),
        (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", NotMediaError),
    ],
)
def test_bad_inputs_give_coded_errors(tmp_path, maker, error):
    with pytest.raises(error) as caught:
        probe(maker(tmp_path))
    assert caught.value.code.startswith("E1") and caught.value.hint


# --- reader ----------------------------------------------------------------------------------
def test_reader_gives_every_frame_in_order(clips):
    with VideoReader(clips["plain"]) as reader:
        frames = list(reader.frames())
    assert [f.index for f in frames] == list(range(40))
    assert _indexes(frames) == list(range(40))
    assert frames[10].time_s == pytest.approx(0.4)
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8


@pytest.mark.parametrize(("start", "stop"), [(0, 3), (13, 17), (16, 17), (37, None), (9, 9)])
def test_reader_range_after_seek_is_exact(clips, start, stop):
    with VideoReader(clips["plain"]) as reader:
        list(reader.frames(30, 32))  # leave the decoder somewhere else first
        frames = list(reader.frames(start, stop))
    expected = list(range(start, 40 if stop is None else stop))
    assert [f.index for f in frames] == expected
    assert _indexes(frames) == expected


def test_reader_seek_does_not_decode_from_the_start(clips):
    """A late range decodes at most one GOP (8 frames) before it, not the whole clip."""
    with VideoReader(clips["plain"]) as reader:
        assert _indexes(reader.frames(35, 37)) == [35, 36]
    assert 2 <= reader.frames_decoded <= 2 + 8


class _SeekRefused:
    """A container that refuses every seek, as an FLV without a keyframe index refuses a seek to its
    start ("operation not permitted"); everything else is the container's own."""

    def __init__(self, container) -> None:
        self._container = container

    def seek(self, *args, **kwargs) -> None:
        raise av.error.PermissionError(1, "Operation not permitted")

    def __getattr__(self, name):
        return getattr(self._container, name)


def test_a_reader_whose_seek_is_refused_opens_the_file_again(clips):
    with VideoReader(clips["plain"]) as reader:
        spread = [media.decode_index(f) for f in reader.sample(3)]
    with VideoReader(clips["plain"]) as reader:
        reader._container = _SeekRefused(reader._container)
        assert _indexes(reader.frames(21, 24)) == [21, 22, 23]
        assert [media.decode_index(f) for f in reader.sample(3)] == spread
        reader._container = _SeekRefused(reader._container)
        assert media.decode_index(reader.read_frame(5)) == 5


def test_read_frame_sample_and_range_errors(clips):
    with VideoReader(clips["plain"]) as reader:
        assert media.decode_index(reader.read_frame(21)) == 21
        decoded_before = reader.frames_decoded
        samples = reader.sample(5)
        got = [media.decode_index(s) for s in samples]
        targets = [0, 10, 20, 29, 39]  # evenly spread; spacing 9.75
        assert len(got) == 5 and got == sorted(set(got))
        assert all(abs(g - t) <= 9.75 / 2 for g, t in zip(got, targets, strict=True))
        # a sample is a keyframe (one frame decoded) unless none is near its target
        assert all(g in reader.info.keyframes or g == t for g, t in zip(got, targets, strict=True))
        assert reader.frames_decoded - decoded_before < 40  # never the whole clip per sample
        with pytest.raises(FrameOutOfRangeError):
            reader.read_frame(40)


def test_sample_in_one_long_group_of_pictures_skips_unreferenced_frames(tmp_path):
    path = tmp_path / "one-gop.mp4"
    with VideoWriter(path, 96, 64, Fraction(25), "h264") as writer:  # x264: one keyframe, B-frames
        for i in range(60):
            writer.write(media.frame_pattern(i, 96, 64))
    info = probe(path)
    assert list(info.keyframes) == [0]
    with VideoReader(path, info) as reader:
        samples = reader.sample(6)
        got = [media.decode_index(s) for s in samples]
        targets = [0, 12, 24, 35, 47, 59]
        assert got == sorted(set(got)) and len(got) == 6
        assert all(t <= g <= t + 4 for g, t in zip(got, targets, strict=True)), got
        assert reader.frames_decoded < 50  # frames no other frame refers to were not decoded
        # and the reader decodes every frame again afterwards
        assert _indexes(reader.frames(0, 60)) == list(range(60))


@pytest.mark.parametrize("frames", [50, 12])
def test_mpeg_ts_frames_are_found_though_its_seeks_land_late(tmp_path, frames):
    """MPEG-TS (camcorders' .mts/.m2ts, broadcast) seeks by its clock and lands a keyframe late, or
    past the only keyframe of a short clip; the reader used to give frame 10 as frame 0, or none."""
    path = media.make_video(tmp_path / "clip.ts", width=96, height=64, frames=frames, gop=10)
    info = probe(path)
    assert info.frame_count == frames and info.frame_pts[0] > 0  # TS starts its clock late
    wanted = [k for k in (0, 1, 9, 10, 11, 25, 49) if k < frames]
    with VideoReader(path, info) as reader:
        assert [media.decode_index(reader.read_frame(k)) for k in wanted] == wanted
        assert _indexes(reader.frames(frames - 3)) == list(range(frames - 3, frames))
        got = [media.decode_index(s) for s in reader.sample(5)]
        assert len(got) == 5 and got == sorted(set(got))
        reader.frames_decoded = 0
        assert media.decode_index(reader.read_frame(frames - 2)) == frames - 2
        assert reader.frames_decoded <= 2 + 10 + 10  # a landing after it, then the group before it


def test_a_damaged_frame_is_shown_as_its_neighbour_and_counted(tmp_path):
    """Bad bytes in the middle of a file used to end the decode there (the job failed with E900); a
    frame the decoder refuses is now the one shown before it (after it, when a range starts on it)."""
    path = media.make_video(tmp_path / "damaged.mp4", width=96, height=64, frames=30, gop=1)
    media.damage_frame(path, 13)
    media.damage_frame(path, 29)  # the last one: nothing decoded after it
    with VideoReader(path) as reader:
        frames = list(reader.frames())
        assert [f.index for f in frames] == list(range(30))
        assert _indexes(frames) == [*range(13), 12, *range(14, 29), 28]
        assert [f.pts for f in frames] == list(reader.info.frame_pts)
        assert reader.repeated == {13, 29}
        assert _indexes(reader.frames(13, 15)) == [14, 14]
        assert media.decode_index(reader.read_frame(13)) == 14


def _untagged_flat_clip(path, width, height, yuv):
    """A lossless clip of one flat YUV colour whose matrix the file does not say."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        planes = np.concatenate([np.full((height, width), yuv[0], np.uint8),
                                 np.full((height // 4, width), yuv[1], np.uint8),
                                 np.full((height // 4, width), yuv[2], np.uint8)])
        for _ in range(2):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(planes, format="yuv420p")))
        out.mux(stream.encode(None))
    return path


def test_an_untagged_clip_is_read_as_players_show_it_bt709_when_hd_bt601_when_sd(tmp_path):
    y, u, v = 81, 90, 240  # a strong red
    luma = 1.164 * (y - 16)
    bt709 = [luma + 1.793 * (v - 128), luma - 0.213 * (u - 128) - 0.533 * (v - 128), luma + 2.112 * (u - 128)]
    bt601 = [luma + 1.596 * (v - 128), luma - 0.392 * (u - 128) - 0.813 * (v - 128), luma + 2.017 * (u - 128)]
    for (width, height), matrix in (((1280, 720), bt709), ((640, 480), bt601)):
        path = _untagged_flat_clip(tmp_path / f"flat{height}.mp4", width, height, (y, u, v))
        with VideoReader(path) as reader:
            rgb = reader.read_frame(0)[height // 2, width // 2].astype(float)
        expected = np.clip(matrix, 0, 255)
        assert np.abs(rgb - expected).max() <= 2.5, (height, rgb, expected)
    assert max(abs(a - b) for a, b in zip(np.clip(bt709, 0, 255), np.clip(bt601, 0, 255), strict=True)) > 15


def test_reader_turns_rotated_video_upright(clips):
    for name in ("rot90", "rot270", "rot180"):
        with VideoReader(clips[name]) as reader:
            frames = list(reader.frames(0, 3))
        assert all(media.has_upright_mark(f.rgb) for f in frames), name
        assert _indexes(frames) == [0, 1, 2], name
    assert frames[0].rgb.shape == (48, 64, 3)


def test_reader_ten_bit_and_odd_size(clips):
    with VideoReader(clips["ten_bit"]) as reader:
        frames = list(reader.frames())
    assert frames[0].rgb.dtype == np.uint8 and _indexes(frames) == list(range(12))
    with VideoReader(clips["odd"]) as reader:
        rgb = reader.read_frame(4)
    assert rgb.shape == (241, 321, 3) and media.decode_index(rgb) == 4


# --- writer ----------------------------------------------------------------------------------
def _copy(src, dst, kind="h264", **kwargs):
    info = probe(src)
    with VideoReader(src, info) as reader, VideoWriter(dst, info.width, info.height, info.fps, kind,
                                                       time_base=info.time_base, **kwargs) as writer:
        for frame in reader.frames():
            last = frame.index == info.frame_count - 1
            writer.write(frame.rgb, pts=frame.pts, duration=info.last_duration if last else None)
    return info, writer


def test_writer_keeps_ntsc_rate_and_duration(clips, tmp_path):
    src_info, _ = _copy(clips["ntsc"], tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == NTSC
    out = probe(tmp_path / "out.mp4")
    assert out.frame_count == src_info.frame_count and out.fps == NTSC
    assert abs(out.duration_s - src_info.duration_s) < 1 / 30


def test_writer_keeps_variable_timestamps(clips, tmp_path):
    src_info, _ = _copy(clips["vfr"], tmp_path / "vfr.mp4")
    out = probe(tmp_path / "vfr.mp4")
    assert out.is_vfr and out.frame_count == src_info.frame_count
    assert [out.time_of(i) for i in range(out.frame_count)] == pytest.approx(
        [src_info.time_of(i) for i in range(src_info.frame_count)], abs=1e-4)
    assert out.duration_s == pytest.approx(src_info.duration_s, abs=1e-3)


@pytest.mark.parametrize("last", [640, 2400, 4000])
def test_writer_ends_where_a_long_last_frame_ends(tmp_path, last):
    """Gaps of 0.1, 0.1, 0.2, 0.05 and 0.1 s, then a last frame of 0.04-0.25 s (an animation's
    pause): the file lasts to its end. A last frame longer than the gap before it ended 0.05 s early
    (x264's decode order made its pts - dts differ from the first frame's)."""
    pts = [0, 1600, 3200, 6400, 7200, 8800]
    path = tmp_path / "long-last.mp4"
    with VideoWriter(path, 64, 48, Fraction(25), "h264", time_base=Fraction(1, 16000)) as writer:
        for i, t in enumerate(pts):
            writer.write(np.full((48, 64, 3), 40 * i, np.uint8), pts=t, duration=last if i == len(pts) - 1 else None)
    out = probe(path)
    assert out.frame_count == 6 and out.duration_s == pytest.approx((pts[-1] + last) / 16000, abs=1e-4)


def test_writer_trimmed_copy_starts_at_zero(clips, tmp_path):
    info = probe(clips["plain"])
    with VideoReader(clips["plain"], info) as reader, VideoWriter(tmp_path / "t.mp4", 64, 48, info.fps, "h264",
                                                                  time_base=info.time_base) as writer:
        for frame in reader.frames(10, 20):
            writer.write(frame.rgb, pts=frame.pts)
    out = probe(tmp_path / "t.mp4")
    assert out.frame_count == 10 and out.duration_s == pytest.approx(0.4)
    with VideoReader(tmp_path / "t.mp4", out) as reader:
        assert _indexes(reader.frames()) == list(range(10, 20))
        assert next(reader.frames()).time_s == 0.0


def test_writer_h264_is_browser_friendly_and_pads_odd_sizes(tmp_path):
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, 321, 241, Fraction(25), "h264") as writer:
        for i in range(5):
            writer.write(media.frame_pattern(i, 321, 241))
    assert writer.warnings and "322x242" in writer.warnings[0]
    info = probe(path)
    assert (info.width, info.height, info.pix_fmt, info.codec) == (322, 242, "yuv420p", "h264")
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: plays while downloading
    with VideoReader(path) as reader:
        rgb = reader.read_frame(3)
    assert media.decode_index(rgb[:241, :321]) == 3
    assert np.abs(rgb[:, 321].astype(int) - rgb[:, 320]).mean() < 4  # padding repeats the edge


def test_writer_h264_colours_survive_a_decode_that_reads_the_tags(tmp_path):
    """The RGB -> 4:2:0 conversion (OpenCV, BT.601) and the stream's tags agree: a decoder that
    honours the tags, as FFmpeg and browsers do, gets the colours back."""
    colours = [(255, 0, 0), (0, 177, 64), (0, 71, 187), (250, 250, 250), (20, 20, 20), (200, 120, 40)]
    image = np.zeros((96, 32 * len(colours), 3), np.uint8)
    for i, c in enumerate(colours):
        image[:, 32 * i : 32 * (i + 1)] = c
    path = tmp_path / "colours.mp4"
    with VideoWriter(path, image.shape[1], image.shape[0], Fraction(25), "h264", crf=10) as writer:
        for _ in range(3):
            writer.write(image)
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert (frame.colorspace, frame.color_range) == (6, 1)  # SMPTE 170M matrix, limited range
    with VideoReader(path) as reader:
        rgb = reader.read_frame(1).astype(int)
    for i, c in enumerate(colours):
        patch = rgb[8:-8, 32 * i + 8 : 32 * (i + 1) - 8].reshape(-1, 3).mean(axis=0)
        assert np.abs(patch - c).max() < 5, (c, patch)


def test_writer_gray_matte_is_full_range_luma(tmp_path):
    alpha = np.zeros((48, 64), np.uint8)
    alpha[:, 32:] = 255
    alpha[24:, :16] = 100
    path = tmp_path / "alpha.mp4"
    with VideoWriter(path, 64, 48, Fraction(25), "h264_gray", crf=0) as writer:
        for _ in range(3):
            writer.write(alpha)
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        luma = frame.to_ndarray(format="gray")
    assert frame.color_range == 2  # full range, tagged
    assert np.abs(luma.astype(int) - alpha).max() <= 2
    with VideoReader(path) as reader:
        rgb = reader.read_frame(0)
    assert np.abs(rgb[..., 0].astype(int) - alpha).max() <= 3


def _alpha_pattern(w, h):
    alpha = np.zeros((h, w), np.uint8)
    alpha[:, : w // 2] = 255
    alpha[h // 2 :, w // 2 :] = 128
    return alpha


def test_writer_vp9_alpha_survives_decode(tmp_path):
    path = tmp_path / "fg.webm"
    w, h = 65, 49
    with VideoWriter(path, w, h, Fraction(25), "vp9_alpha") as writer:
        for i in range(6):
            writer.write(np.dstack([media.frame_pattern(i, w, h), _alpha_pattern(w, h)]))
    assert not writer.warnings  # VP9 keeps odd sizes
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (w, h, 6)
    decoder = av.CodecContext.create("libvpx-vp9", "r")  # FFmpeg's own vp9 decoder drops alpha
    with av.open(str(path)) as c:
        rgba = [f.to_ndarray(format="rgba") for p in c.demux(video=0) for f in decoder.decode(p)]
    assert len(rgba) == 6
    alpha = rgba[2][..., 3].astype(int)
    assert alpha[5, 5] > 245 and alpha[5, w - 5] < 10 and abs(alpha[h - 5, w - 5] - 128) < 10
    assert media.decode_index(rgba[2][..., :3]) == 2


def test_writer_prores4444_keeps_alpha(tmp_path):
    path = tmp_path / "fg.mov"
    with VideoWriter(path, 64, 48, NTSC, "prores4444") as writer:
        for i in range(4):
            writer.write(np.dstack([media.frame_pattern(i, 64, 48), _alpha_pattern(64, 48)]))
    info = probe(path)
    assert info.codec == "prores" and info.pix_fmt.startswith("yuva444p") and info.fps == NTSC
    with av.open(str(path)) as c:
        rgba = [f.to_ndarray(format="rgba") for f in c.decode(video=0)]
    assert len(rgba) == 4 and media.decode_index(rgba[3][..., :3]) == 3
    assert rgba[0][5, 5, 3] == 255 and rgba[0][5, 60, 3] == 0 and abs(int(rgba[0][40, 60, 3]) - 128) <= 2


def test_writer_refuses_bad_kind_and_suffix_and_cleans_up(tmp_path):
    with pytest.raises(FormatError):
        VideoWriter(tmp_path / "x.mp4", 64, 48, Fraction(25), "gif")
    with pytest.raises(FormatError):
        VideoWriter(tmp_path / "x.mp4", 64, 48, Fraction(25), "vp9_alpha")
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "y.mp4", 64, 48, Fraction(25), "h264") as writer:
        writer.write(media.frame_pattern(0, 64, 48))
        raise RuntimeError("job failed")
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_transcode_baseline_reports_fps(clips, tmp_path):
    fps = transcode_baseline(clips["plain"], tmp_path / "base.mp4")
    assert fps > 0 and probe(tmp_path / "base.mp4").frame_count == 40


def test_probe_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    """The studio probes a clip on upload, on preview and for the job: a long clip's packets are
    read once, and a file written anew under the same name is probed anew."""
    import core.video_io as video_io

    opened = []
    real_open = video_io.open_input
    monkeypatch.setattr(video_io, "open_input", lambda p: opened.append(p) or real_open(p))
    path = media.make_video(tmp_path / "c.mp4", frames=12)
    first = probe(path)
    once = len(opened)  # (the packets, and the first frame from the file opened afresh)
    assert probe(path) is first and probe(str(path)) == first and len(opened) == once
    media.make_video(path, frames=20)
    assert probe(path).frame_count == 20 and len(opened) == 2 * once


def test_an_animated_webp_sticker_keeps_colours_transparency_and_each_frames_time(tmp_path):
    """foreground.webp: the colours as they were (WebP is BT.601 by definition: written as BT.709
    they came back 14-35 levels off), partial alpha kept, transparent where nothing is (libwebp crops
    frames to what changed and, when what it kept is opaque, left out the alpha flag: readers showed
    black there), every frame's own duration, the last one's too (FFmpeg gave it the one before's),
    an odd size, and looping."""
    from PIL import Image

    colours = [(200, 200, 0), (30, 60, 200), (128, 128, 128), (250, 20, 20)]
    with VideoWriter(tmp_path / "s.webp", 81, 61, Fraction(25), "webp_alpha", time_base=Fraction(1, 1000)) as writer:
        for i, (colour, pts) in enumerate(zip(colours, (0, 40, 160, 200), strict=True)):
            rgba = np.zeros((61, 81, 4), np.uint8)
            rgba[..., :3] = colour
            rgba[20:50, 30:70, 3] = 255  # a hard-edged, opaque subject
            rgba[40:50, 30:40, 3] = 128
            writer.write(rgba, pts=pts, duration=100 if i == 3 else None)
    sticker = Image.open(tmp_path / "s.webp")
    assert sticker.n_frames == 4 and sticker.size == (81, 61) and sticker.info["loop"] == 0
    durations = []
    for i, colour in enumerate(colours):
        sticker.seek(i)
        rgba = np.asarray(sticker.convert("RGBA")).astype(int)
        durations.append(sticker.info["duration"])
        assert np.abs(rgba[30, 50, :3] - colour).max() <= 4, (colour, rgba[30, 50])
        assert rgba[30, 50, 3] == 255 and abs(rgba[45, 35, 3] - 128) <= 2 and rgba[5, 5, 3] == 0
    assert durations == [40, 120, 40, 100]
    with VideoWriter(tmp_path / "hard.webp", 64, 48, Fraction(25), "webp_alpha") as writer:
        for i in range(3):  # opaque where anything is: libwebp's cropped frames have no alpha of their own
            rgba = np.zeros((48, 64, 4), np.uint8)
            rgba[..., 0] = 40 * i  # the subject's colour changes, and the colour under its transparency
            rgba[10:30, 10:40, 1:] = (160, 40, 255)
            writer.write(rgba)
    hard = Image.open(tmp_path / "hard.webp")
    hard.seek(2)
    assert hard.mode == "RGBA" and np.asarray(hard.convert("RGBA"))[40, 5, 3] == 0  # was opaque black


def test_an_interlaced_clip_is_deinterlaced_as_it_is_read(tmp_path):
    """A camcorder's 1080i holds two fields a frame, half a frame apart: a moving edge is a comb,
    which the outputs (progressive) kept for good. Its frames are deinterlaced as they are decoded
    (core/deinterlace.py: FFmpeg's bwdif, a frame for each frame); a progressive clip is read as it
    was decoded."""
    clip = media.make_interlaced_video(tmp_path / "i.mp4")
    info = probe(clip)
    assert info.interlaced and info.frame_count == 12
    with av.open(str(clip)) as container:
        raw = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with VideoReader(clip) as reader:
        frames = list(reader.frames())
        assert [f.index for f in frames] == list(range(12))
        assert [f.pts for f in frames] == list(info.frame_pts)
        assert np.array_equal(reader.read_frame(6), frames[6].rgb)  # a seek gives the same picture
    assert min(media.comb(f) for f in raw[1:]) > 5.0  # combs: 8 before
    assert max(media.comb(f.rgb) for f in frames) < 1.0
    progressive = media.make_video(tmp_path / "p.mp4", width=64, height=48, frames=4)
    assert not probe(progressive).interlaced
    with av.open(str(progressive)) as container, VideoReader(progressive) as reader:
        assert np.array_equal(next(container.decode(video=0)).to_ndarray(format="rgb24"), reader.read_frame(0))
