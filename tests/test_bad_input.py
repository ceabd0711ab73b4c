"""Every kind of bad input gets its coded error with a hint, the process keeps going, and nothing
half-written is left in --out."""

from __future__ import annotations

import os

import cv2
import media
import numpy as np
import pytest

import app
from app_config import get_settings


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return media.make_video(tmp_path_factory.mktemp("clip") / "ok.mp4", width=64, height=48, frames=10, fps=10)


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def fails_with(code: str, capsys, *args) -> str:
    """Run `process` in this same process: it must return 2 with one coded line on stderr."""
    status = app.main(["process", *map(str, args), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith(f"error {code}: ") and " — " in err and "\n" not in err, err
    return err


def assert_nothing_written(out):
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def _fifo(path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "maker, code",
    [
        (lambda d: media.make_random_bytes(d / "noise.mp4"), "E101"),
        (lambda d: media.make_truncated_mp4(d / "cut.mp4"), "E102"),
        (lambda d: media.make_zero_frame_video(d / "empty.mkv"), "E104"),
        (lambda d: media.make_audio_only(d / "sound.m4a"), "E103"),
        (lambda d: d, "E106"),  # a folder
        (lambda d: "https://example.com/video.mp4", "E106"),  # a URL
        (lambda d: d / "missing.mp4", "E106"),
        (lambda d: _fifo(d / "pipe.mp4"), "E106"),  # reading a pipe nobody writes to would wait for ever
    ],
    ids=["not-media", "truncated", "zero-frames", "audio-only", "folder", "url", "missing", "pipe"],
)
def test_bad_input_files(tmp_path, capsys, maker, code):
    src = maker(tmp_path)
    out = tmp_path / "out"
    err = fails_with(code, capsys, src, "--out", out, "--point", "5,5")
    if str(src).startswith("https:"):
        assert "'https://example.com/video.mp4' is a URL" in err  # said as given, not as a path
    assert_nothing_written(out)


def test_bad_prompts(tmp_path, capsys, clip):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the user's own file")
    fails_with("E201", capsys, clip, "--out", out, "--point", "64,10")
    fails_with("E201", capsys, clip, "--out", out, "--point=-1,10")
    fails_with("E207", capsys, clip, "--out", out, "--point", "-1,10")  # argparse: looks like an option
    fails_with("E201", capsys, clip, "--out", out, "--box", "10,10,80,20")
    fails_with("E204", capsys, clip, "--out", out, "--point", "5,5", "--frame", "10")
    err = fails_with("E204", capsys, clip, "--out", out, "--point", "5,5", "--correct", "12:5,5")
    assert "correction frame 12" in err and "--correct" in err
    # a correction before the part a trim keeps: not called the prompt frame, nor told to use --frame alone
    err = fails_with("E204", capsys, clip, "--out", out, "--point", "5,5", "--trim-start", "0.5", "--correct", "1:5,5")
    assert "frame 1 is outside" in err and "prompt frame" not in err and "--correct" in err, err
    fails_with("E205", capsys, clip, "--out", out)
    err = fails_with("E205", capsys, clip, "--out", out, "--point", "5,5", "--correct", "6:-5,5@2")
    assert "correction frame 6: subject 2 has only 'not subject' clicks, and no mask" in err and "frame 6" in err
    assert "prompt frame 0: subject 1" in fails_with("E205", capsys, clip, "--out", out, "--negative", "5,5")
    # a 'not subject' click before the frame prompted on: named as a frame, with where the subject starts
    err = fails_with("E205", capsys, clip, "--out", out, "--point", "5,5", "--frame", "7", "--correct", "3:-5,5")
    assert "frame 3: subject 1 has only 'not subject' clicks" in err and "prompt frame 3" not in err, err
    assert "its first click on it is on frame 7" in err and "a frame after 7" in err, err
    fails_with("E207", capsys, clip, "--out", out, "--point", "5;5")
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((10, 10), 255, np.uint8))
    fails_with("E202", capsys, clip, "--out", out, "--mask", small)
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((48, 64), np.uint8))
    fails_with("E203", capsys, clip, "--out", out, "--mask", empty)
    fails_with("E206", capsys, clip, "--out", out, "--mask", tmp_path / "nope.png")
    assert_nothing_written(out)
    assert (out / "keep.txt").read_text() == "the user's own file"


def test_a_mask_or_background_given_as_a_url_a_folder_or_junk_gets_one_coded_line(tmp_path, capfd, clip):
    """Nothing but the coded line on stderr, read at the file descriptor (OpenCV's reader printed a
    warning line of its own for a mask it could not read); a URL is named as typed and told to be
    fetched first; a clip given as an image background is told to be given as video:."""
    out = tmp_path / "out"
    junk = media.make_random_bytes(tmp_path / "junk.png")
    big = tmp_path / "clip-as-mask.png"  # a sparse file: no disk used
    with open(big, "wb") as fh:
        fh.truncate(257 * 2**20)
    for args, code, says in [
        (("--mask", "http://example.com/m.png"), "E206", "the mask 'http://example.com/m.png' is a URL"),
        (("--mask", tmp_path), "E206", "is a folder"),
        (("--mask", tmp_path / "nope.png"), "E206", "does not exist"),
        (("--mask", junk), "E206", "cannot read the mask"),
        (("--mask", big), "E206", "is 257 MB, not a mask picture"),
        (("--point", "5,5", "--background", "image:http://example.com/b.png"), "E302",
         "background image: 'http://example.com/b.png' is a URL"),
        (("--point", "5,5", "--background", "video:https://example.com/b.mp4"), "E302", "is a URL"),
        (("--point", "5,5", "--background", f"image:{clip}"), "E302", "give it as a video background (video:PATH)"),
    ]:
        assert app.main(["process", str(clip), "--out", str(out), *map(str, args), "--quiet"]) == 2
        err = capfd.readouterr().err.strip()
        assert err.startswith(f"error {code}: ") and "\n" not in err and says in err, err
        hints = ("local file path", "give the mask as a PNG", "give it as a video background")
        assert any(hint in err for hint in hints), err
    assert_nothing_written(out)


def test_bad_backgrounds_and_formats(tmp_path, capsys, clip):
    out = tmp_path / "out"
    junk = media.make_random_bytes(tmp_path / "bg.png")
    fails_with("E302", capsys, clip, "--out", out, "--point", "5,5", "--background", f"image:{junk}")
    fails_with("E302", capsys, clip, "--out", out, "--point", "5,5", "--background", f"video:{junk}")
    fails_with("E302", capsys, clip, "--out", out, "--point", "5,5", "--background", "image:/no/such.png")
    fails_with("E301", capsys, clip, "--out", out, "--point", "5,5", "--background", "sparkles")
    # a colour or a file given without its kind: the hint says how to write it
    err = fails_with("E301", capsys, clip, "--out", out, "--point", "5,5", "--background", "#00ff00")
    assert "did you mean color:#00ff00?" in err
    err = fails_with("E301", capsys, clip, "--out", out, "--point", "5,5", "--background", str(clip))
    assert f"did you mean video:{clip}?" in err
    fails_with("E402", capsys, clip, "--out", out, "--point", "5,5", "--formats", "movie.avi")
    assert_nothing_written(out)


def test_a_sticker_is_for_a_short_clip(tmp_path, capsys):
    """An animated WebP is built in memory: a job's memory would grow with the clip. Over a minute
    it is refused before any work, with the way out; trimmed to a minute it is made."""
    long = media.make_video(tmp_path / "long.mp4", width=64, height=48, frames=62, fps=1)
    out = tmp_path / "out"
    err = fails_with("E402", capsys, long, "--out", out, "--point", "5,5", "--formats", "foreground.webp")
    assert "up to 60 s" in err and "lasts 62 s" in err and "foreground.webm" in err
    assert_nothing_written(out)
    assert app.main(["process", str(long), "--out", str(out), "--point", "5,5", "--formats", "foreground.webp",
                     "--trim-end", "50", "--quiet"]) == 0
    assert (out / "foreground.webp").is_file()


@pytest.mark.parametrize("option, value", [("--despill", "3"), ("--light-wrap", "-0.5"), ("--feather", "-2"),
                                           ("--choke", "1e9"), ("--despill", "nan")])
def test_edge_options_out_of_range(tmp_path, capsys, clip, option, value):
    out = tmp_path / "out"
    err = fails_with("E207", capsys, clip, "--out", out, "--point", "5,5", f"{option}={value}")
    assert f"give {option} between" in err
    assert_nothing_written(out)


def test_limits(tmp_path, capsys, clip, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("BGFX_MAX_DURATION_S", "0.5")
    err = fails_with("E105", capsys, clip, "--out", out, "--point", "5,5")
    assert "limit" in err
    get_settings.cache_clear()
    monkeypatch.delenv("BGFX_MAX_DURATION_S")
    monkeypatch.setenv("BGFX_MAX_SIDE_PX", "32")
    fails_with("E105", capsys, clip, "--out", out, "--point", "5,5")
    get_settings.cache_clear()
    monkeypatch.delenv("BGFX_MAX_SIDE_PX")
    monkeypatch.setenv("BGFX_MAX_UPLOAD_MB", "1")
    big = tmp_path / "big.mp4"
    big.write_bytes(clip.read_bytes() + b"\0" * (2 * 2**20))
    fails_with("E105", capsys, big, "--out", out, "--point", "5,5")
    assert_nothing_written(out)


def test_a_clip_over_the_duration_limit_may_be_trimmed_to_a_part_within_it(tmp_path, capsys, monkeypatch):
    """The hint of a clip over the limit says to trim it, and a trimmed job is measured by what it
    keeps (it used to be refused by the whole clip's length whatever the trim)."""
    clip = media.make_video(tmp_path / "long.mp4", width=64, height=48, frames=50, fps=25)  # 2 s
    monkeypatch.setenv("BGFX_MAX_DURATION_S", "1")
    get_settings.cache_clear()
    err = fails_with("E105", capsys, clip, "--out", tmp_path / "o1", "--point", "5,5")
    assert "the clip lasts 2 s" in err and "trim it to at most 1 s" in err
    err = fails_with("E105", capsys, clip, "--out", tmp_path / "o2", "--point", "5,5", "--trim-start", "0.2")
    assert "the part of the clip kept lasts 2 s" in err
    assert app.main(["process", str(clip), "--out", str(tmp_path / "o3"), "--point", "5,5", "--trim-start", "0.4",
                     "--trim-end", "1.2", "--quiet"]) == 0


def test_a_photo_may_be_larger_than_a_clip(tmp_path, capsys, monkeypatch):
    """A phone's 48 MP picture is 8064 px wide: photos have their own, larger limit."""
    wide = tmp_path / "panorama.png"
    picture = np.zeros((120, 5000, 3), np.uint8)
    picture[30:90, 2400:2600] = 255
    cv2.imwrite(str(wide), picture)
    out = tmp_path / "out"
    assert app.main(["process", str(wide), "--out", str(out), "--point", "2500,60", "--quiet"]) == 0
    assert cv2.imread(str(out / "cutout.png"), cv2.IMREAD_UNCHANGED).shape == (120, 5000, 4)
    get_settings.cache_clear()
    monkeypatch.setenv("BGFX_MAX_PHOTO_SIDE_PX", "4000")
    assert "4000 px limit" in fails_with("E105", capsys, wide, "--out", tmp_path / "o2", "--point", "2500,60")


def test_a_full_disk_is_said_plainly_and_leaves_nothing(tmp_path, capsys, clip, monkeypatch):
    """No space left (FFmpeg's errno 28 from a writer) used to come out as E900, "a bug"."""
    import errno

    from core.video_writer import VideoWriter

    real_write, calls = VideoWriter.write, []

    def write(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(self._tmp))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(VideoWriter, "write", write)
    out = tmp_path / "out"
    err = fails_with("E403", capsys, clip, "--out", out, "--point", "5,5")
    assert f"where {out} is" in err and "free some disk space" in err
    assert_nothing_written(out)


def test_a_job_never_writes_over_its_own_files(tmp_path, capsys, clip):
    """Re-processing out/composite.mp4 into out/ replaced the clip with its own result."""
    out = tmp_path / "out"
    out.mkdir()
    again = out / "composite.mp4"
    again.write_bytes(clip.read_bytes())
    err = fails_with("E401", capsys, again, "--out", out, "--point", "5,5")
    assert "one of the job's own files" in err and again.read_bytes() == clip.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["composite.mp4"]
    # the same folder is fine when the result has another name
    assert app.main(["process", str(again), "--out", str(out), "--point", "5,5", "--formats", "alpha.mp4",
                     "--quiet"]) == 0
    assert again.read_bytes() == clip.read_bytes() and (out / "alpha.mp4").exists()
    # a background file is the job's too
    fails_with("E401", capsys, clip, "--out", out, "--point", "5,5", "--background", f"video:{again}")
    assert again.read_bytes() == clip.read_bytes()
    # and a mask: an earlier job's frame 0, touched up and given back, lies in alpha/, which
    # --matte-frames replaces whole (it was deleted with the folder)
    assert app.main(["process", str(clip), "--out", str(out), "--point", "5,5", "--formats", "alpha.mp4",
                     "--matte-frames", "--quiet"]) == 0
    touched = out / "alpha" / "000000.png"
    cv2.imwrite(str(touched), np.full((48, 64), 255, np.uint8))
    kept = touched.read_bytes()
    err = fails_with("E401", capsys, clip, "--out", out, "--mask", touched, "--formats", "alpha.mp4", "--matte-frames")
    assert "000000.png is one of the job's own files" in err and touched.read_bytes() == kept
    assert app.main(["process", str(clip), "--out", str(out), "--mask", str(touched), "--formats", "alpha.mp4",
                     "--quiet"]) == 0  # without --matte-frames the folder stays: fine
    assert touched.read_bytes() == kept


def test_unwritable_out(tmp_path, capsys, clip):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    fails_with("E401", capsys, clip, "--out", blocker, "--point", "5,5")
    fails_with("E401", capsys, clip, "--out", blocker / "sub", "--point", "5,5")
    assert blocker.read_text() == ""


def test_bad_setting_is_reported_not_raised(capsys, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("BGFX_QUALITY", "ultra")
    fails_with("E701", capsys, clip, "--out", tmp_path / "o", "--point", "5,5")


def test_still_works_after_errors(tmp_path, capsys, clip):
    """The same process runs a good job right after a series of failures."""
    for _ in range(3):
        fails_with("E201", capsys, clip, "--out", tmp_path / "bad", "--point", "500,5")
    assert app.main(["process", str(clip), "--out", str(tmp_path / "good"), "--point", "5,5", "--quiet"]) == 0
    assert (tmp_path / "good" / "composite.mp4").exists()


def test_one_mask_picture_gives_one_mask_on_the_command_line_and_in_the_studio(tmp_path, clip):
    """A mask painted as transparency (its colour black throughout, as an editor's eraser leaves it),
    in pure blue, with an alpha channel it does not use, or in grey with alpha: the command line read
    only a grey conversion (the first was 'empty', E203; blue became 29) and the studio its own way.
    Now one reader serves both, and the job runs from each."""
    from core.prompts import read_mask_file
    from ui import specs

    subject = np.zeros((48, 64), bool)
    subject[10:40, 8:30] = True
    level = subject.astype(np.uint8) * 255
    zeros, full = np.zeros_like(level), np.full_like(level, 255)
    pictures = {
        "transparency.png": np.dstack([zeros, zeros, zeros, level]),
        "blue.png": np.dstack([level, zeros, zeros]),  # OpenCV's order: blue first
        "unused-alpha.png": np.dstack([level, level, level, full]),
        "grey.png": level,
    }
    for name, picture in pictures.items():
        path = tmp_path / name
        assert cv2.imwrite(str(path), picture)
        assert np.array_equal(read_mask_file(str(path)), subject), name
        assert np.array_equal(specs.read_mask(str(path)), subject), name
    grey_alpha = tmp_path / "grey-alpha.png"  # two channels: written with Pillow, OpenCV writes none
    from PIL import Image

    Image.fromarray(np.dstack([level, level]), "LA").save(grey_alpha)
    assert np.array_equal(read_mask_file(str(grey_alpha)), subject)
    out = tmp_path / "out"
    assert app.main(["process", str(clip), "--out", str(out), "--mask", str(tmp_path / "transparency.png"),
                     "--formats", "alpha.mp4", "--quiet"]) == 0
    assert (out / "alpha.mp4").stat().st_size > 0
