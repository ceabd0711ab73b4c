"""Putting the source's sound back on an encoded (silent) video, in sync, with PyAV only.

The video file written by the pipeline starts at 0 and its first frame is the source frame at
``start_s`` (seconds from the source's first video frame). So the source's audio at
``video_start + start_s`` must land at the output's time 0; ``end_s`` cuts it where the video
ends. Without a trim the audio packets are copied untouched when the container accepts the
codec (no quality loss, no decode); with a trim, or a codec the container refuses (e.g. PCM in
MP4), the audio is decoded, cut to the exact sample and encoded to AAC (Opus in WebM). Every
audio track of the source is kept, in its order (the first stays the default one).

No ffmpeg binary is needed: PyAV's bundled libraries do the demux, decode, encode and mux.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from core.exceptions import FormatError, NotMediaError
from core.video_io import decoded_frames, file_tags
from core.video_writer import MUXER_OPTIONS

logger = logging.getLogger(__name__)

_MP4_COPY = frozenset({"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"})
# What every browser plays in MP4: the composite is watched in the studio and on the web, where
# AC-3 (every AVCHD camcorder's sound) and ALAC play in Safari alone; the MOV, for editors, copies them.
_BROWSER_MP4_COPY = frozenset({"aac", "mp3", "opus", "flac"})
#: codecs each output container takes as they are (stream copy)
COPYABLE: dict[str, frozenset[str]] = {
    ".mp4": _BROWSER_MP4_COPY,
    ".m4v": _BROWSER_MP4_COPY,
    # QuickTime's muxer refuses Opus and FLAC ("Invalid argument": the job failed, E900): converted
    ".mov": (_MP4_COPY - {"opus", "flac"}) | {"pcm_s16le", "pcm_s24le", "pcm_f32le"},
    ".mkv": _MP4_COPY | {"vorbis", "pcm_s16le", "pcm_s24le"},
    ".webm": frozenset({"opus", "vorbis"}),
}
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


def has_audio(path: str | Path) -> bool:
    """True when the file has at least one audio stream."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except av.FFmpegError:
        raise NotMediaError(f"{Path(path).name} cannot be read as media") from None


def _start_s(stream) -> float:
    """Presentation time of the stream's first packet (0 when the container does not say)."""
    if stream.start_time is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def mux_audio(
    video_path: str | Path,
    source_path: str | Path,
    out_path: str | Path,
    start_s: float | None = None,
    end_s: float | None = None,
    source_start_s: float | None = None,
) -> str:
    """Write ``out_path``: the video of ``video_path`` with the audio of ``source_path``, every
    audio track of it (a camera's two microphones, a film's languages), in the source's order.

    Returns what happened to the audio: ``"copy"`` (every track copied as it is), ``"transcode"``
    (at least one track re-encoded), ``"none"`` (the source has no audio: the video is copied as
    is) or ``UNREADABLE`` (its sound could not be read: the video as is, silent). Written
    atomically (temporary name, then rename). ``source_start_s``: when the source's first frame
    shown is not where its video track starts (frames that cannot be decoded before it), its time
    on the source's clock.
    """
    video_path, source_path, out_path = Path(video_path), Path(source_path), Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in _FORMATS:
        raise FormatError(f"cannot put audio in {out_path.name}: use .mp4, .mov, .mkv or .webm")
    tmp = out_path.with_name(f".{out_path.stem}.{uuid.uuid4().hex[:8]}.part{out_path.suffix}")
    try:
        with av.open(str(source_path)) as src:
            tracks = len(src.streams.audio)
            apart = any(_read_apart(stream, src.format.name) for stream in src.streams.audio)
        args = (video_path, source_path, tracks, tmp, suffix, start_s, end_s, source_start_s)
        if tracks == 0:
            shutil.copyfile(video_path, tmp)
            mode = "none"
        elif apart:
            mode = _mux_apart(*args)
        else:
            mode = _mux(*args)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("audio %s -> %s (%s, %d track(s))", source_path.name, out_path.name, mode, tracks)
    return mode


#: what ``mux_audio`` returns when the source's sound could not be read
UNREADABLE = "unreadable"


def _read_apart(stream, container_format: str) -> bool:
    """Whether a sound track is read in a process of its own: PCM in a MOV or MP4 (a pro camera's, a
    screen recorder's, an editor's export).

    Why: PyAV 18 frees a channel layout twice when it is in an order of the file's own (a MOV 'chan'
    atom such as MPEG 7.1 C: L R C LFE Ls Rs Lrs Rrs); merely asking such a track its number of
    channels brought the whole process down ("double free or corruption"), the studio's server with
    it, and a process that dies cannot be caught. Those layouts come with PCM in MOV, where a 'chan'
    atom says the order; other codecs carry standard orders. Only the codec's name is asked here."""
    return stream.codec_context.codec.name.startswith("pcm_") and "mov" in container_format.split(",")


def _mux_apart(video_path: Path, source_path: Path, tracks: int, tmp: Path, *rest) -> str:
    """``_mux`` in a process of its own (a fresh interpreter running this module: nothing of the
    caller's, a studio's threads or a script without a main guard, is started again); if that
    process dies, the video as it is, silent (``UNREADABLE``). The paths go to it absolute: it runs
    in the project's folder, where a path relative to the caller's is another file (a ProRes MOV
    given as ``clip.mov`` came out silent)."""
    paths = [str(Path(p).resolve()) for p in (video_path, source_path)]
    args = json.dumps([*paths, tracks, str(Path(tmp).resolve()), *rest])
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "core.audio_processor", args], capture_output=True, text=True,
                          env=env, cwd=root, check=False)
    mode = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    if mode and mode[0] in ("copy", "transcode"):
        return mode[0]
    logger.warning("the sound of %s could not be read (exit %s): left out; %s", source_path.name, done.returncode,
                   done.stderr.strip().splitlines()[-1:] or "no message")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(video_path, tmp)
    return UNREADABLE


def _mux(video_path: Path, source_path: Path, tracks: int, tmp: Path, suffix: str,
         start_s: float | None, end_s: float | None, source_start_s: float | None) -> str:
    """The video's packets and every audio track's, merged by time into ``tmp``.

    Each track is read through a container of its own: one demuxer cannot feed several
    generators that are consumed in turn (each would skip the packets the others need)."""
    options = dict(MUXER_OPTIONS.get(suffix, {}))
    modes = []
    with ExitStack() as stack:
        vid = stack.enter_context(av.open(str(video_path)))
        out = stack.enter_context(av.open(str(tmp), "w", format=_FORMATS[suffix], container_options=options))
        out.metadata.update(file_tags(vid.metadata))  # the file's own tags (core.video_io.file_tags)
        video_in = vid.streams.video[0]
        video_out = out.add_stream_from_template(video_in)
        if video_in.average_rate:  # the muxer's timecode track counts frames at this rate
            video_out.codec_context.framerate = video_in.average_rate
        if video_in.sample_aspect_ratio not in (None, 1):  # MOV keeps it beside the codec's parameters
            video_out.codec_context.sample_aspect_ratio = video_in.sample_aspect_ratio
        # the stream's tags go too: WebM's ``alpha_mode`` is what tells a player that VP9 has alpha
        video_out.metadata.update({k: v for k, v in video_in.metadata.items() if k.upper() != "DURATION"})
        streams = [_retagged(vid.demux(video_in), video_out)]
        for track in range(tracks):
            src = stack.enter_context(av.open(str(source_path)))
            packets, mode = _audio_track(src, src.streams.audio[track], out, video_in, suffix, start_s, end_s,
                                         source_start_s)
            streams.append(packets)
            modes.append(mode)
        # merge by time so the muxer never has to buffer one whole stream in memory
        for packet in heapq.merge(*streams, key=_packet_time):
            out.mux(packet)
    return "copy" if all(m == "copy" for m in modes) else "transcode"


def _audio_track(src, audio_in, out, video, suffix: str, start_s: float | None,
                 end_s: float | None, source_start_s: float | None) -> tuple[Iterator[av.Packet], str]:
    """An output stream in ``out`` for one source audio track, and its packets on the clock of the
    encoded ``video`` (a stream of the file being given sound)."""
    source_video = src.streams.video[0] if src.streams.video else None
    if source_start_s is None:
        source_start_s = _start_s(source_video) if source_video is not None else 0.0
    origin = source_start_s + (start_s or 0.0)
    end = None if end_s is None else origin - (start_s or 0.0) + end_s
    if start_s is None and end_s is None and audio_in.codec_context.codec.canonical_name in COPYABLE[suffix]:
        audio_out = out.add_stream_from_template(audio_in)
        audio_out.metadata.update(_track_tags(audio_in, suffix))
        shift = origin - _start_s(video)  # source audio time - shift = output time
        return _copied_audio(src, audio_in, audio_out, shift), "copy"
    codec = "libopus" if suffix == ".webm" else "aac"
    in_ctx = audio_in.codec_context
    audio_out = out.add_stream(codec, rate=_encoder_rate(codec, in_ctx.sample_rate), layout=_layout(codec, in_ctx))
    audio_out.metadata.update(_track_tags(audio_in, suffix))
    return _encoded_audio(src, audio_in, audio_out, origin, end), "transcode"


#: the channel layouts each encoder takes as they are, so surround stays surround (a 5.1 with side
#: channels goes in as the codecs' own 5.1, whose surrounds are "back": the same six speakers)
_ENCODER_LAYOUTS = {"aac": ("mono", "stereo", "5.1"), "libopus": ("mono", "stereo", "5.1")}
#: a track's tags that tell it from the others in a player's menu
_TRACK_TAGS = ("language", "title", "handler_name", "comment")


def _layout(codec: str, ctx) -> str:
    """The channel layout a track is encoded in: its own where the encoder takes it (a film's 5.1
    was mixed down to stereo), a six-channel one as 5.1, anything else as stereo."""
    if ctx.layout.name in _ENCODER_LAYOUTS[codec]:
        return ctx.layout.name
    return "5.1" if ctx.channels == 6 else "stereo"


def _track_tags(stream, suffix: str) -> dict[str, str]:
    """The tags of a source track a player shows (its language and name: "English", "Commentary"):
    without them every track of a film came out "und", one like the other. MP4 and MOV keep no
    track title: players show the handler's name there, so a title goes in as that."""
    tags = {k: v for k, v in stream.metadata.items() if k.lower() in _TRACK_TAGS}
    title = next((v for k, v in tags.items() if k.lower() == "title"), None)
    if title and suffix in (".mp4", ".m4v", ".mov"):
        tags["handler_name"] = title
    return tags


def _encoder_rate(codec: str, rate: int) -> int:
    if codec == "libopus":
        return 48000
    return rate if rate in (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000) else 48000


def _packet_time(packet: av.Packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None else 0.0


def _retagged(packets: Iterator[av.Packet], stream) -> Iterator[av.Packet]:
    """Packets of one input stream, re-assigned to an output stream (timestamps untouched)."""
    for packet in packets:
        if packet.size == 0:
            continue
        packet.stream = stream
        yield packet


def _copied_audio(src, audio_in, audio_out, shift_s: float) -> Iterator[av.Packet]:
    """Audio packets as they are, moved by ``shift_s``; packets ending before 0 are dropped."""
    offset = round(shift_s / audio_in.time_base)
    for packet in _retagged(src.demux(audio_in), audio_out):
        if packet.pts is None:
            continue
        end = packet.pts + (packet.duration or 0) - offset
        if end <= 0 and packet.duration:
            continue
        packet.pts -= offset
        if packet.dts is not None:
            packet.dts -= offset
        yield packet


def _encoded_audio(src, audio_in, audio_out, origin_s: float, end_s: float | None) -> Iterator[av.Packet]:
    """Decode, cut to [origin_s, end_s) at the sample, pad a late start with silence, encode."""
    ctx = audio_out.codec_context
    rate, layout = ctx.sample_rate, ctx.layout.name
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    chunk = ctx.frame_size or 1024
    buffer = np.zeros((ctx.channels, 0), np.float32)
    written = 0
    started = False
    stop_at = None if end_s is None else round((end_s - origin_s) * rate)
    for frame in decoded_frames(src, audio_in):  # a damaged packet's time becomes a gap
        if frame.pts is None:
            continue
        t0 = float(frame.pts * frame.time_base)
        for out_frame in resampler.resample(frame):
            samples = out_frame.to_ndarray().astype(np.float32, copy=False)
            first = round((t0 - origin_s) * rate)  # output sample index of this frame's first sample
            t0 += samples.shape[1] / rate
            if not started:
                if first > 0:  # the sound starts after the first frame: lead in with silence
                    buffer = np.zeros((samples.shape[0], first), np.float32)
                started = True
            elif first - (written + buffer.shape[1]) > rate // 50:
                # a gap of over 20 ms (a damaged packet left out): silence, so what follows stays in sync
                gap = first - (written + buffer.shape[1])
                buffer = np.concatenate([buffer, np.zeros((samples.shape[0], gap), np.float32)], axis=1)
            if first < 0:
                samples = samples[:, -first:]
            buffer = np.concatenate([buffer, samples], axis=1)
            if stop_at is not None and written + buffer.shape[1] >= stop_at:
                buffer = buffer[:, : max(0, stop_at - written)]
            while buffer.shape[1] >= chunk:
                yield from _encode_chunk(audio_out, buffer[:, :chunk], written, layout, rate)
                buffer, written = buffer[:, chunk:], written + chunk
            if stop_at is not None and written + buffer.shape[1] >= stop_at:
                break
        else:
            continue
        break
    if buffer.shape[1]:
        yield from _encode_chunk(audio_out, buffer, written, layout, rate)
    yield from audio_out.encode(None)


def _encode_chunk(stream, samples: np.ndarray, pts: int, layout: str, rate: int) -> Iterator[av.Packet]:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    yield from stream.encode(frame)


def audio_onsets_s(path: str | Path, threshold: float = 0.4, min_gap_s: float = 0.1,
                   track: int = 0) -> list[float]:
    """Times (s, from the first video frame) where audio track ``track`` first rises above ``threshold``.

    For sync tests: a click in the sound at the frame where the picture flashes should give an
    onset at that frame's time. ``min_gap_s`` keeps one onset per click.
    """
    onsets: list[float] = []
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return onsets
        zero = _start_s(container.streams.video[0]) if container.streams.video else 0.0
        stream = container.streams.audio[track]
        last = -1e9
        for frame in decoded_frames(container, stream):
            if frame.pts is None:
                continue
            raw = frame.to_ndarray()
            samples = np.abs(raw.astype(np.float32))
            if raw.dtype.kind in "iu":
                samples /= float(np.iinfo(raw.dtype).max)
            peak = samples.reshape(len(frame.layout.channels), -1).max(axis=0) if frame.format.is_planar \
                else samples.reshape(-1, len(frame.layout.channels)).max(axis=1)
            t0 = float(frame.pts * frame.time_base) - zero
            for i in np.flatnonzero(peak > threshold):
                t = t0 + i / frame.sample_rate
                if t - last >= min_gap_s:
                    onsets.append(t)
                last = t
    return onsets


if __name__ == "__main__":  # ``_mux_apart``'s process: the arguments as JSON, the mode on stdout
    video, source, count, part, *more = json.loads(sys.argv[1])
    print(_mux(Path(video), Path(source), count, Path(part), *more))
