"""Audio back on the encoded video: copy vs AAC transcode, trims, and sync measured with clicks."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from core.audio_processor import UNREADABLE, audio_onsets_s, has_audio, mux_audio
from core.exceptions import FormatError
from core.video_io import VideoWriter, probe
from core.video_reader import VideoReader
from tests import media

FLASHES = (5, 17, 30)


def _silent_copy(src, dst, first=0, stop=None):
    """Re-encode frames first..stop-1 of ``src`` without sound, as the pipeline does."""
    info = probe(src)
    with VideoReader(src, info) as reader, VideoWriter(dst, info.width, info.height, info.fps, "h264",
                                                       time_base=info.time_base) as writer:
        for frame in reader.frames(first, stop):
            writer.write(frame.rgb, pts=frame.pts)
    return info


def _flash_times(path):
    with VideoReader(path) as reader:
        return [f.time_s for f in reader.frames() if media.is_flash(f.rgb)]


def _audio_codec(path):
    with av.open(str(path)) as c:
        return c.streams.audio[0].codec_context.codec.canonical_name


@pytest.mark.parametrize(
    ("suffix", "codec", "rate", "mode"),
    [
        (".mp4", "aac", 48000, "copy"),
        (".mp4", "libmp3lame", 44100, "copy"),
        (".mp4", "libopus", 48000, "copy"),
        (".mov", "pcm_s16le", 48000, "transcode"),  # PCM does not go in MP4: re-encoded to AAC
        (".mkv", "ac3", 48000, "transcode"),  # a camcorder's AC-3 plays in Safari alone: AAC for browsers
    ],
)
def test_mux_keeps_sync_within_a_frame(tmp_path, suffix, codec, rate, mode):
    src = media.make_video(tmp_path / f"src{suffix}", frames=40, audio="click", audio_codec=codec,
                           audio_rate=rate, flash_frames=FLASHES)
    _silent_copy(src, tmp_path / "silent.mp4")
    assert not has_audio(tmp_path / "silent.mp4")
    assert mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.mp4") == mode
    out = tmp_path / "out.mp4"
    assert _audio_codec(out) == ("aac" if mode == "transcode" else _audio_codec(src))
    flashes, onsets = _flash_times(out), audio_onsets_s(out)
    assert len(flashes) == len(FLASHES) == len(onsets)
    assert max(abs(a - v) for a, v in zip(onsets, flashes, strict=True)) < 1 / 25
    assert probe(out).frame_count == 40


@pytest.mark.parametrize(("codec", "suffix"), [("libopus", ".webm"), ("flac", ".mkv")])
def test_an_editors_mov_takes_opus_and_flac_converted(tmp_path, codec, suffix):
    """QuickTime's muxer refuses Opus (every WebM's sound) and FLAC: copied into foreground.mov they
    ended the job as an internal error. They are converted there, in sync; the MP4 copies them."""
    src = media.make_video(tmp_path / f"src{suffix}", frames=40, codec="libvpx-vp9" if suffix == ".webm" else "libx264",
                           audio="click", audio_codec=codec, flash_frames=FLASHES)
    _silent_copy(src, tmp_path / "silent.mov")
    assert mux_audio(tmp_path / "silent.mov", src, tmp_path / "out.mov") == "transcode"
    flashes, onsets = _flash_times(tmp_path / "out.mov"), audio_onsets_s(tmp_path / "out.mov")
    assert len(onsets) == len(FLASHES) and max(abs(a - v) for a, v in zip(onsets, flashes, strict=True)) < 1 / 25
    _silent_copy(src, tmp_path / "silent.mp4")
    assert mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.mp4") == "copy"


def test_editors_mov_keeps_a_camcorders_ac3_as_it_is(tmp_path):
    src = media.make_video(tmp_path / "cam.mkv", frames=40, audio="click", audio_codec="ac3",
                           flash_frames=FLASHES)
    _silent_copy(src, tmp_path / "silent.mov")
    assert mux_audio(tmp_path / "silent.mov", src, tmp_path / "out.mov") == "copy"
    assert _audio_codec(tmp_path / "out.mov") == "ac3"


def test_trim_cuts_audio_to_the_video_ntsc(tmp_path):
    fps = Fraction(30000, 1001)
    src = media.make_video(tmp_path / "src.mp4", frames=45, fps=fps, audio="click", flash_frames=FLASHES)
    info = _silent_copy(src, tmp_path / "silent.mp4", first=12, stop=36)
    start_s, end_s = info.time_of(12), info.time_of(36)
    assert mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.mp4", start_s=start_s, end_s=end_s) == "transcode"
    out = tmp_path / "out.mp4"
    flashes, onsets = _flash_times(out), audio_onsets_s(out)
    assert len(flashes) == 2 == len(onsets)  # flashes at 17 and 30 are inside [12, 36)
    assert flashes[0] == pytest.approx((17 - 12) / fps, abs=1e-3)
    assert max(abs(a - v) for a, v in zip(onsets, flashes, strict=True)) < 1 / 30
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        audio_s = float(audio.duration * audio.time_base)
    assert audio_s == pytest.approx(float(24 / fps), abs=1 / 30)
    assert probe(out).fps == fps


def test_source_without_audio_gives_the_video(tmp_path):
    src = media.make_video(tmp_path / "src.mp4", frames=10)
    _silent_copy(src, tmp_path / "silent.mp4")
    assert mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.mp4") == "none"
    assert (tmp_path / "out.mp4").read_bytes() == (tmp_path / "silent.mp4").read_bytes()
    assert not has_audio(tmp_path / "out.mp4")


def test_mux_is_atomic_and_checks_the_container(tmp_path):
    src = media.make_video(tmp_path / "src.mp4", frames=10, audio="sine")
    _silent_copy(src, tmp_path / "silent.mp4")
    with pytest.raises(FormatError):
        mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.avi")
    with pytest.raises(av.FFmpegError):
        mux_audio(tmp_path / "missing.mp4", src, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silent.mp4", "src.mp4"]  # nothing half-written


def _loudness(path):
    """Peak of each audio track of ``path``, in track order."""
    peaks = []
    with av.open(str(path)) as c:
        for stream in c.streams.audio:
            peaks.append(max(float(abs(f.to_ndarray()).max()) for f in c.decode(stream)))
            c.seek(0)
    return peaks


@pytest.mark.parametrize("trim", [False, True])
def test_every_audio_track_is_kept_in_order_and_in_sync(tmp_path, trim):
    src = media.make_video(tmp_path / "src.mkv", frames=40, audio="click", audio_tracks=2, flash_frames=FLASHES)
    first, stop = (12, 36) if trim else (0, None)
    info = _silent_copy(src, tmp_path / "silent.mp4", first=first, stop=stop)
    cut = {"start_s": info.time_of(12), "end_s": info.time_of(36)} if trim else {}
    out = tmp_path / "out.mp4"
    assert mux_audio(tmp_path / "silent.mp4", src, out, **cut) == ("transcode" if trim else "copy")
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 2
    loud, quiet = _loudness(out)
    assert loud > 1.5 * quiet  # the source's order: its first track is the louder one
    flashes = _flash_times(out)
    assert len(flashes) == (2 if trim else 3)
    for track in (0, 1):
        onsets = audio_onsets_s(out, threshold=0.2, track=track)
        assert len(onsets) == len(flashes)
        assert max(abs(a - v) for a, v in zip(onsets, flashes, strict=True)) < 1 / 25


def test_transparent_webm_gets_sound_and_keeps_its_alpha(tmp_path):
    src = media.make_video(tmp_path / "src.mp4", frames=20, audio="click", flash_frames=(5,))
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[:, :32] = (200, 100, 50, 255)  # left half opaque, right half transparent
    with VideoWriter(tmp_path / "fg.webm", 64, 48, Fraction(25), "vp9_alpha") as writer:
        for i in range(20):
            writer.write(rgba, pts=i)
    out = tmp_path / "out.webm"
    assert mux_audio(tmp_path / "fg.webm", src, out) == "transcode"  # AAC does not go in WebM: Opus
    assert _audio_codec(out) == "opus"
    with av.open(str(out)) as c:
        video = c.streams.video[0]
        tags = {k.lower(): v for k, v in video.metadata.items()}
        assert tags.get("alpha_mode") == "1"  # what tells a browser the VP9 has alpha
        decoder = av.CodecContext.create("libvpx-vp9", "r")  # FFmpeg's own VP9 decoder drops alpha
        frames = [f for packet in c.demux(video) if packet.size for f in decoder.decode(packet)]
    plane = np.frombuffer(frames[3].planes[3], np.uint8).reshape(48, -1)[:, :64]
    assert len(frames) == 20 and plane[:, :24].min() > 240 and plane[:, 40:].max() < 15


def test_a_films_tracks_keep_their_surround_languages_and_names(tmp_path):
    """A film's 5.1 track re-encoded for the MP4 or the WebM came out stereo, and every track's
    language and name came out "und", one like the other in a player's menu. Now a 5.1 track stays
    5.1 (AAC in MP4, Opus in WebM), and each track keeps its language, and its name (MP4 and MOV show
    a track's handler name: the title goes in as that)."""
    src = media.make_video(tmp_path / "film.mkv", frames=20, audio="sine", audio_codec="ac3", audio_tracks=2,
                           audio_layouts=("5.1(side)", "stereo"),
                           audio_tags=({"language": "eng", "title": "English"},
                                       {"language": "fra", "title": "Commentaire"}))
    for suffix, codec in ((".mp4", "aac"), (".webm", "opus"), (".mov", "ac3")):
        silent = tmp_path / f"silent{suffix}"
        if suffix == ".webm":
            info = probe(src)
            with VideoReader(src, info) as reader, VideoWriter(silent, info.width, info.height, info.fps,
                                                               "vp9_alpha", time_base=info.time_base) as writer:
                for frame in reader.frames():
                    writer.write(frame.rgb, pts=frame.pts)
        else:
            _silent_copy(src, silent)
        out = tmp_path / f"out{suffix}"
        mux_audio(silent, src, out)
        with av.open(str(out)) as container:
            tracks = container.streams.audio
            assert [t.codec_context.codec.canonical_name for t in tracks] == [codec, codec], suffix
            assert [t.codec_context.channels for t in tracks] == [6, 2], suffix  # [2, 2] re-encoded before
            assert [t.metadata.get("language") for t in tracks] == ["eng", "fra"], suffix
            names = [t.metadata.get("title") or t.metadata.get("handler_name") for t in tracks]
            assert names == ["English", "Commentaire"], (suffix, names)


def test_a_sound_track_that_would_bring_the_process_down_is_left_out(tmp_path):
    """PyAV 18 frees a channel layout twice when a MOV's 'chan' atom gives an order of its own (MPEG
    7.1 C: L R C LFE Ls Rs Lrs Rrs): reading that track killed the process, the studio's server with
    it. PCM in a MOV is read in a process of its own; if that dies, the outputs are silent and the
    job goes on. A MOV's PCM that reads is kept (5.1 here)."""
    src = media.make_video(tmp_path / "camera.mov", frames=20, audio="sine", audio_codec="pcm_s16le",
                           audio_layouts=("7.1",))
    data = bytearray(src.read_bytes())
    at = data.find(b"chan")
    data[at + 8:at + 16] = bytes.fromhex("0080000800000000")  # the layout tag MPEG 7.1 C, no bitmap
    src.write_bytes(bytes(data))
    _silent_copy(src, tmp_path / "silent.mp4")
    assert mux_audio(tmp_path / "silent.mp4", src, tmp_path / "out.mp4") == UNREADABLE
    assert not has_audio(tmp_path / "out.mp4") and probe(tmp_path / "out.mp4").frame_count == 20
    surround = media.make_video(tmp_path / "surround.mov", frames=20, audio="sine", audio_codec="pcm_s16le",
                                audio_layouts=("5.1",))
    _silent_copy(surround, tmp_path / "silent2.mp4")
    assert mux_audio(tmp_path / "silent2.mp4", surround, tmp_path / "out2.mp4") == "transcode"
    with av.open(str(tmp_path / "out2.mp4")) as container:
        assert container.streams.audio[0].codec_context.channels == 6


def test_an_editors_mov_given_by_a_relative_path_keeps_its_sound(tmp_path, monkeypatch):
    """PCM in a MOV is read in a process of its own (above), which runs in the project's folder: the
    paths must reach it whole. Given relative to the caller's folder, the sound was left out."""
    src = media.make_video(tmp_path / "edit.mov", frames=40, audio="click", audio_codec="pcm_s16le",
                           flash_frames=FLASHES)
    _silent_copy(src, tmp_path / "silent.mp4")
    monkeypatch.chdir(tmp_path)
    assert mux_audio(Path("silent.mp4"), Path("edit.mov"), Path("out.mp4")) == "transcode"
    flashes, onsets = _flash_times(tmp_path / "out.mp4"), audio_onsets_s(tmp_path / "out.mp4")
    assert len(onsets) == len(FLASHES) and max(abs(a - v) for a, v in zip(onsets, flashes, strict=True)) < 1 / 25
