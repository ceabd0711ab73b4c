"""Small synthetic media for the test suite, written with PyAV (no ffmpeg binary, no downloads).

Every picture carries its own frame index as an 8-bit code in a band at the top, so a test can
check that "frame i" really is frame i after a seek, a rotation or a re-encode
(:func:`decode_index`). A "flash" frame is white below the band, and the ``click`` audio puts a
short loud burst at exactly the time of each flash, so audio/video sync can be measured
(:func:`flash_times` here, ``core.audio_processor.audio_onsets_s`` for the audio side).

These functions are imported by other test modules: keep the signatures stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

BITS = 8  # frame indexes are coded modulo 256
DARK = 40  # grey level of the area below the code band on a normal frame
MARK = (230, 30, 30)  # red square at the top-left of the lower area: shows which way is up


# --- pictures -----------------------------------------------------------------------------
def frame_pattern(index: int, width: int, height: int, flash: bool = False) -> np.ndarray:
    """The upright RGB picture of frame ``index``.

    Layout: a code band (top quarter) of ``BITS`` cells, most significant bit on the left,
    white = 1, black = 0; below it dark grey (white when ``flash``) with a red square in its
    top-left corner. Asymmetric on purpose, so a rotated or mirrored decode is caught.
    """
    img = np.empty((height, width, 3), np.uint8)
    band = max(4, height // 4)
    img[band:] = 255 if flash else DARK
    code = index % (1 << BITS)
    for bit in range(BITS):
        x0, x1 = bit * width // BITS, (bit + 1) * width // BITS
        on = (code >> (BITS - 1 - bit)) & 1
        img[:band, x0:x1] = 255 if on else 0
    mark_h, mark_w = max(2, (height - band) // 3), max(2, width // 4)
    img[band : band + mark_h, :mark_w] = MARK
    return img


def decode_index(rgb: np.ndarray) -> int:
    """Read back the index coded by :func:`frame_pattern` (centre of each cell, threshold 128)."""
    height, width = rgb.shape[:2]
    band = max(4, height // 4)
    y = band // 2
    code = 0
    for bit in range(BITS):
        x = (2 * bit + 1) * width // (2 * BITS)
        code = (code << 1) | int(rgb[y, x].mean() > 128)
    return code


def is_flash(rgb: np.ndarray) -> bool:
    """True for a flash frame (the lower area is white, not dark grey)."""
    height = rgb.shape[0]
    band = max(4, height // 4)
    lower = rgb[band + (height - band) // 2 :]
    return float(lower.mean()) > 150.0


def has_upright_mark(rgb: np.ndarray) -> bool:
    """True when the red orientation square is at the top-left, under the code band."""
    height, width = rgb.shape[:2]
    band = max(4, height // 4)
    mark_h, mark_w = max(2, (height - band) // 3), max(2, width // 4)
    patch = rgb[band + mark_h // 4 : band + 3 * mark_h // 4, mark_w // 4 : 3 * mark_w // 4].astype(int)
    r, g, b = patch[..., 0].mean(), patch[..., 1].mean(), patch[..., 2].mean()
    return r > 150 and g < 100 and b < 100


# --- audio --------------------------------------------------------------------------------
def click_track(duration_s: float, click_times_s: Sequence[float], rate: int = 48000) -> np.ndarray:
    """Mono float32 samples: a quiet 440 Hz bed with a loud 5 ms 2 kHz burst starting at each time.

    The bed (amplitude 0.05) keeps the encoder busy; a burst (0.8) is what sync tests detect.
    """
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    samples = 0.05 * np.sin(2 * math.pi * 440.0 * t)
    burst = int(0.005 * rate)
    for ts in click_times_s:
        start = int(round(ts * rate))
        if 0 <= start < n:
            end = min(n, start + burst)
            samples[start:end] = 0.8 * np.sin(2 * math.pi * 2000.0 * (t[start:end] - ts) + math.pi / 2)
    return samples.astype(np.float32)


def sine_tone(duration_s: float, freq: float = 440.0, rate: int = 48000) -> np.ndarray:
    """Mono float32 sine at amplitude 0.3."""
    t = np.arange(int(round(duration_s * rate))) / rate
    return (0.3 * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def _add_audio(container, codec: str, rate: int, layout: str = "mono", tags: dict[str, str] | None = None):
    """Add an audio stream (before anything is muxed: the header lists every stream)."""
    stream = container.add_stream(codec, rate=rate, layout=layout)
    stream.metadata.update(tags or {})
    return stream


def _write_audio(container, stream, samples: np.ndarray, start_pts: int = 0) -> None:
    """Encode mono float samples into ``stream`` of ``container``."""
    ctx = stream.codec_context
    rate = ctx.sample_rate
    fmt = ctx.format.name if ctx.format else "fltp"
    chunk = ctx.frame_size or 1024
    pts = start_pts
    for i in range(0, len(samples), chunk):
        part = samples[i : i + chunk]
        if ctx.frame_size and len(part) < chunk:  # fixed-size codecs: pad the last frame
            part = np.pad(part, (0, chunk - len(part)))
        frame = _audio_frame(part, fmt, rate, ctx.layout.name)
        frame.pts = pts
        pts += len(part)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _audio_frame(mono: np.ndarray, fmt: str, rate: int, layout: str = "mono") -> av.AudioFrame:
    """An AudioFrame in the sample format ``fmt`` the encoder wants: ``mono`` on every channel of
    ``layout`` (more than one channel: planar float only)."""
    channels = av.AudioLayout(layout).nb_channels
    if channels > 1:
        if fmt == "fltp":
            data = np.repeat(mono.reshape(1, -1), channels, axis=0).astype(np.float32)
        elif fmt == "s16":  # packed: the channels of each sample side by side
            data = (np.clip(np.repeat(mono, channels), -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        else:
            raise ValueError(f"test media: {layout} in {fmt}: planar float or packed s16 only")
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        frame.sample_rate = rate
        return frame
    if fmt in ("fltp", "flt"):
        data = mono.reshape(1, -1).astype(np.float32)
    elif fmt in ("s16", "s16p"):
        data = (np.clip(mono, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    elif fmt in ("s32", "s32p"):
        data = (np.clip(mono, -1, 1) * 2147483647).astype(np.int32).reshape(1, -1)
    else:
        raise ValueError(f"test media: no sample conversion for {fmt}")
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
    frame.sample_rate = rate
    return frame


# --- video --------------------------------------------------------------------------------
def make_video(
    path: str | Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 20,
    fps: Fraction | int = 25,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: str | None = None,
    audio_codec: str = "aac",
    audio_rate: int = 48000,
    audio_tracks: int = 1,
    flash_frames: Sequence[int] = (),
    rotation: int = 0,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    gop: int = 10,
    faststart: bool = True,
    color_trc: int | None = None,
    sample_aspect: Fraction | None = None,
    timecode: str | None = None,
    tags: dict[str, str] | None = None,
    audio_layouts: Sequence[str] = (),
    audio_tags: Sequence[dict[str, str]] = (),
) -> Path:
    """Write a small test clip and return its path; the container follows the suffix.

    ``width``/``height`` are the DISPLAY size. With ``rotation`` (counter-clockwise degrees, as
    FFmpeg's display matrix reads back) the picture is stored turned the other way and the
    display matrix says how to turn it upright, like a phone recording held upright.
    ``pts`` (in ``time_base``) gives explicit, possibly irregular timestamps: variable frame
    rate. ``audio`` is None, ``"click"`` (bursts at the flash frames) or ``"sine"``, in
    ``audio_tracks`` tracks (track k at 1 / (k + 1) of the first's loudness: they differ).
    ``gop`` is the keyframe interval, so seeks have something to do; ``color_trc`` tags a transfer;
    ``sample_aspect`` makes the pixels non-square (anamorphic PAL, HDV); ``timecode`` is a camera's
    start timecode (MP4/MOV: a timecode track).
    ``audio_layouts`` and ``audio_tags`` give track k its channel layout (mono when not given) and
    its tags (a language, a title); ``tags`` are the file's own.
    """
    path = Path(path)
    fps = Fraction(fps)
    tb = time_base or (1 / fps)
    stamps = list(pts) if pts is not None else [round(i / fps / tb) for i in range(frames)]
    frames = len(stamps)
    turns = (rotation // 90) % 4
    enc_w, enc_h = (height, width) if turns % 2 else (width, height)
    opts = {"movflags": "+faststart"} if faststart and path.suffix in (".mp4", ".mov", ".m4a") else {}
    with av.open(str(path), "w", container_options=opts) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = enc_w, enc_h, pix_fmt
        stream.time_base = tb
        stream.codec_context.time_base = tb
        stream.codec_context.gop_size = gop
        stream.codec_context.colorspace = 6  # PyAV converts RGB with the BT.601 matrix: say so
        if sample_aspect is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect
        if timecode is not None:
            stream.metadata["timecode"] = timecode
        out.metadata.update(tags or {})  # the file's own (creation_time, location, title)
        if color_trc is not None:  # a transfer tag (16: PQ, 18: HLG), the picture itself unchanged
            stream.codec_context.color_trc = color_trc
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "ultrafast", "bf": "2"}
        elif codec == "libvpx-vp9":
            stream.options = {"crf": "20", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        if turns:
            stream.set_display_rotation(turns * 90)
        audio_streams = [_add_audio(out, audio_codec, audio_rate,
                                    audio_layouts[k] if k < len(audio_layouts) else "mono",
                                    audio_tags[k] if k < len(audio_tags) else None)
                         for k in range(audio_tracks)] if audio else []
        flashes = set(flash_frames)
        for i, p in enumerate(stamps):
            upright = frame_pattern(i, width, height, flash=i in flashes)
            stored = np.ascontiguousarray(np.rot90(upright, k=-turns))  # display = rot90(stored, turns)
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = p, tb
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
        if audio:
            last = stamps[-1] + (stamps[-1] - stamps[-2] if frames > 1 else round(1 / fps / tb))
            duration = float((last - stamps[0]) * tb)
            if audio == "click":
                clicks = [float((stamps[i] - stamps[0]) * tb) for i in flash_frames]
                samples = click_track(duration, clicks, audio_rate)
            elif audio == "sine":
                samples = sine_tone(duration, rate=audio_rate)
            else:
                raise ValueError(f"test media: audio must be None, 'click' or 'sine', not {audio!r}")
            for k, audio_stream in enumerate(audio_streams):
                _write_audio(out, audio_stream, samples / (k + 1))
    return path


def flash_times(frame_times_s: Sequence[float], flash_frames: Sequence[int]) -> list[float]:
    """Times (s) of the flash frames, given every frame's time: what the clicks line up with."""
    return [frame_times_s[i] for i in flash_frames]


# --- bad and odd files --------------------------------------------------------------------
def make_random_bytes(path: str | Path, size: int = 4096, seed: int = 0) -> Path:
    """A file of random bytes with a media-looking name: not media at all."""
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def make_truncated_mp4(path: str | Path, keep: float = 0.5, faststart: bool = False) -> Path:
    """An MP4 cut short to ``keep`` of its bytes, as from an interrupted download.

    Without faststart the index (moov) was at the end and is lost; with faststart the index
    survives but points at frame data that is missing.
    """
    path = Path(path)
    make_video(path, frames=30, width=64, height=48, faststart=faststart)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_zero_frame_video(path: str | Path) -> Path:
    """A Matroska file with a video track (and a short audio track) but not a single frame."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        _write_audio(out, _add_audio(out, "aac", 48000), sine_tone(0.2))
    return path


def make_audio_only(path: str | Path, duration_s: float = 0.5) -> Path:
    """An M4A (MP4 with one AAC stream, no picture)."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as out:
        _write_audio(out, _add_audio(out, "aac", 48000), sine_tone(duration_s))
    return path


def pale_dog_frames(frames: int = 24, width: int = 480, height: int = 270,
                    seed: int = 3) -> tuple[list[np.ndarray], list[np.ndarray], tuple[int, int]]:
    """A still camera on a pale, slightly textured pavement, and a white "dog" with one brown
    patch walking across it: its white is close to the pavement's colour, so colours alone find
    only the patch. Returns the RGB frames, the dog's true masks and a click on the patch."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)[..., None]
    pavement = 200 + 40 * noise + np.float32([0, -2, -6])
    fur = np.float32([238, 236, 232]) + 6 * noise
    images, masks = [], []
    for i in range(frames):
        cx, cy = width * 3 // 16 + 12 * i, height * 5 // 9
        body = np.zeros((height, width), np.uint8)
        cv2.ellipse(body, (cx, cy), (50, 28), 0, 0, 360, 1, -1)
        cv2.circle(body, (cx + 52, cy - 22), 16, 1, -1)  # head
        for dx in (-30, 30):
            cv2.rectangle(body, (cx + dx - 5, cy + 15), (cx + dx + 5, cy + 55), 1, -1)  # legs
        image = np.where(body[..., None] > 0, fur, pavement)
        cv2.ellipse(image, (cx - 5, cy - 5), (18, 12), 20, 0, 360, (150, 90, 50), -1)  # the patch
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(body > 0)
    return images, masks, (width * 3 // 16 - 5, height * 5 // 9 - 5)


def make_interlaced_video(path: str | Path, frames: int = 12, width: int = 160, height: int = 120,
                          fps: int = 25) -> Path:
    """An interlaced H.264 clip (top field first, as a camcorder's 1080i): a light bar moving right on a
    grey ground, each frame's odd lines (the second field) showing it 4 px further on, so that its
    edges are combs until deinterlaced."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"x264-params": "interlaced=1:tff=1", "crf": "16"}
        for i in range(frames):
            image = np.full((height, width, 3), 60, np.uint8)
            x = 20 + 8 * i
            image[0::2, x:x + 20] = 220  # the first field
            image[1::2, x + 4:x + 24] = 220  # the second, half a frame later
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def comb(rgb: np.ndarray) -> float:
    """How combed a picture is: the mean distance of each line from the mean of its neighbours."""
    image = rgb.astype(np.float32)
    return float(np.abs(image[1:-1] - (image[:-2] + image[2:]) / 2).mean())


def dithered_frames(frames: int = 8, width: int = 320, height: int = 180,
                    seed: int = 1) -> tuple[list[np.ndarray], list[np.ndarray], tuple[int, int]]:
    """A still camera on a textured scene (bench.synthetic's), and a person (a torso and a head) in a
    colour a little off the scene's, walking right; each frame dithered as an animated GIF's are,
    to 4 levels a channel (64 colours) with random dither, scattered anew in every frame. Returns
    the RGB frames, the person's true masks and a click on the torso at the first frame."""
    from bench.synthetic import make_clip

    scene = next(iter(make_clip("static", width, height, 2, seed=seed).frames()))[0].astype(np.float32)
    rng = np.random.default_rng(seed)
    shirt = np.float32(scene.reshape(-1, 3).mean(0)) + np.float32([25, -10, 20]) + \
        cv2.GaussianBlur(rng.normal(0, 12, scene.shape).astype(np.float32), (0, 0), 2)
    step = 255.0 / 3
    images, masks = [], []
    for i in range(frames):
        cx, cy = width // 2 + 3 * i, height // 2 + 10
        person = np.zeros((height, width), np.uint8)
        cv2.ellipse(person, (cx, cy), (width // 10, height // 4), 0, 0, 360, 1, -1)
        cv2.circle(person, (cx, cy - height // 4 - height // 10 + 4), height // 10, 1, -1)
        image = np.where(person[..., None] > 0, np.roll(shirt, 3 * i, axis=1), scene)
        image = np.round((image + rng.uniform(-0.5, 0.5, image.shape) * step) / step) * step
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append(person > 0)
    return images, masks, (width // 2, height // 2 + 10)


def dog_and_hand_frames(frames: int = 30, width: int = 480, height: int = 270,
                        seed: int = 5) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A still camera: a pale "dog" walks right, away from a "person" of the same pale colour whose
    arm touches the dog's head in the first frame and then lifts. What ../shared/media/dog.mp4 shows
    when the woman gives the dog its ball: the hand stays at the dog's mouth for the first third of
    the clip. Returns the RGB frames, the dog's masks and the person's."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 3)[..., None]
    pavement = 120 + 25 * noise + np.float32([0, 4, 8])
    pale = np.float32([235, 230, 222]) + 5 * noise
    images, dogs, people = [], [], []
    for i in range(frames):
        dog, person = np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8)
        cx, cy = width * 2 // 5 + 8 * i, height * 3 // 5
        cv2.ellipse(dog, (cx, cy), (48, 24), 0, 0, 360, 1, -1)
        cv2.circle(dog, (cx - 50, cy - 20), 16, 1, -1)  # its head, on the person's side
        for dx in (-28, 28):
            cv2.rectangle(dog, (cx + dx - 5, cy + 12), (cx + dx + 5, cy + 50), 1, -1)
        px, py = width // 6 - 3 * i, height // 3  # she steps back: the median shows the pavement
        cv2.rectangle(person, (px - 22, py - 30), (px + 22, height - 1), 1, -1)  # body
        cv2.circle(person, (px, py - 48), 17, 1, -1)  # head
        held = min(i, frames // 6)  # the hand follows the dog's head, then lifts
        hand = (cx - 66 - 4 * (i - held), cy - 22 - 6 * (i - held))
        cv2.line(person, (px + 15, py - 10), hand, 1, 14)
        person &= 1 - dog
        image = np.where((dog | person)[..., None] > 0, pale, pavement)
        cv2.ellipse(image, (cx + 10, cy - 4), (16, 10), 0, 0, 360, (150, 90, 50), -1)  # the dog's patch
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        dogs.append(dog > 0)
        people.append(person > 0)
    return images, dogs, people



def still_scene() -> np.ndarray:
    """A greenish, softly textured 384x216 background (uint8 RGB), the same every call."""
    rng = np.random.default_rng(5)
    scene = cv2.GaussianBlur(rng.uniform(60, 140, (216, 384, 3)).astype(np.float32), (0, 0), 3)
    scene[:, :, 1] += 30
    return np.clip(scene, 0, 255).astype(np.uint8)


def leaves_and_comes_back(i: int) -> tuple[np.ndarray, np.ndarray]:
    """``still_scene`` and a brown-and-white subject (a dog) that walks out of the frame to the right
    (frames 0-11), stays out (12-17), and walks back in (18-29): frame ``i`` and its mask (uint8)."""
    frame = still_scene()
    x = 200 + 22 * i if i < 12 else 450 if i < 18 else 450 - 20 * (i - 17)
    mask = np.zeros((216, 384), np.uint8)
    cv2.ellipse(mask, (x, 120), (30, 20), 0, 0, 360, 1, -1)
    frame[mask > 0] = (225, 222, 215)
    patch = np.zeros_like(mask)
    cv2.circle(patch, (x - 10, 115), 9, 1, -1)
    frame[(patch > 0) & (mask > 0)] = (150, 85, 40)
    return frame, mask


def two_things_frames(frames: int = 30) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """``leaves_and_comes_back``'s dog and a dark "person" swaying on the left: her and her dog,
    which a person may click as one subject. Returns the RGB frames, the dog's masks and the
    person's; at frame 0 the dog is at (200, 120) and the person at (50, 125)."""
    images, dogs, people = [], [], []
    for i in range(frames):
        image, dog = leaves_and_comes_back(i)
        person = np.zeros(dog.shape, np.uint8)
        cv2.rectangle(person, (36 + i % 6, 50), (64 + i % 6, 200), 1, -1)
        image[person > 0] = (40, 50, 120)
        images.append(image)
        dogs.append(dog > 0)
        people.append(person > 0)
    return images, dogs, people


def dark_head_frames(frames: int = 24, width: int = 480,
                     height: int = 270) -> tuple[list[np.ndarray], list[np.ndarray], tuple[int, int]]:
    """A still camera on a dark hedge with a brown stone wall along its foot, and a person walking
    right: a white shirt, and a brown head (hair) before the hedge, the colour of the wall, so that
    a cut on colours leaves the head out (../shared/media/dog.mp4: her dark hair before dark
    foliage). Returns the RGB frames, the person's masks and a click on the shirt at frame 0."""
    rng = np.random.default_rng(4)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 4)
    leaves = (1 / (1 + np.exp(-2 * noise / noise.std())))[..., None]
    scene = (1 - leaves) * np.float32([18, 38, 20]) + leaves * np.float32([40, 90, 45])
    stones = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 2)[..., None]
    scene[190:] = np.float32([100, 65, 45]) + 12 * stones[190:]
    scene += rng.normal(0, 3, scene.shape).astype(np.float32)
    images, masks = [], []
    for i in range(frames):
        cx = 150 + 8 * i
        shirt, head = np.zeros((height, width), np.uint8), np.zeros((height, width), np.uint8)
        cv2.rectangle(shirt, (cx - 40, 125), (cx + 40, height - 1), 1, -1)
        cv2.ellipse(head, (cx, 92), (26, 34), 0, 0, 360, 1, -1)
        head &= 1 - shirt
        image = scene.copy()
        image[shirt > 0] = (232, 230, 224)
        image[head > 0] = (110, 70, 50)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        masks.append((shirt | head) > 0)
    return images, masks, (150, 190)

def write_frames(path: str | Path, frames: Sequence[np.ndarray], fps: int = 25) -> Path:
    """Encode RGB frames as a near-lossless H.264 clip (x264 crf 12, one keyframe in ten)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.codec_context.gop_size = "yuv420p", 10
        stream.options = {"crf": "12", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def drop_leading_video_packets(src: str | Path, dst: str | Path, count: int) -> Path:
    """Copy ``src`` to ``dst`` without its first ``count`` video packets (in decode order), every
    audio packet kept: a file cut in the middle of a group of pictures, as stream-copy cutters
    and broadcast recordings leave them."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        skipped = 0
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if packet.dts is None:
                continue
            if packet.stream.type == "video" and skipped < count:
                skipped += 1
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return Path(dst)


def damage_frame(path: str | Path, index: int, kind: str = "video") -> Path:
    """Spoil, in place, the first bytes of the packet of frame ``index`` (in presentation order) of
    the first ``kind`` track so that the decoder refuses it (an MP4's H.264 sample gets an
    impossible NAL length, an AAC frame impossible bits)."""
    path = Path(path)
    with av.open(str(path)) as c:
        packets = sorted((p.pts, p.pos) for p in c.demux(**{kind: 0}) if p.size and p.pts is not None)
    pos = packets[index][1]
    with path.open("r+b") as fh:
        fh.seek(pos)
        fh.write(b"\xff\xff\xff\xff")
    return path


def join_clips(parts: Sequence[str | Path], dst: str | Path) -> Path:
    """The video packets of ``parts`` (MPEG-TS clips of one codec) one after the other in ``dst``,
    without re-encoding: a stream whose picture size changes where a part of another size starts."""
    with av.open(str(dst), "w", format="mpegts") as out:
        stream, offset = None, 0
        for part in parts:
            with av.open(str(part)) as inp:
                source = inp.streams.video[0]
                stream = stream or out.add_stream_from_template(source)
                last = offset
                for packet in inp.demux(source):
                    if packet.dts is None:
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.stream = stream
                    out.mux(packet)
                offset = last
    return Path(dst)
