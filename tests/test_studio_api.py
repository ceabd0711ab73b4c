"""The studio's named endpoints through gradio_client, against the app served on localhost in this
run: /preview_mask, /replace_background (a full job), /cutout_image; coded errors that leave the
server up; two clients at once. Plus the pieces under them that need no server (state, specs,
ZeroGPU switch) and the Dockerfile lint.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import av
import cv2
import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from studio_fixtures import (  # noqa: F401 - pytest fixtures
    CLIP_FRAMES,
    CLIP_H,
    CLIP_W,
    studio,
    subject_center,
    subject_clip,
    subject_photo,
)

from core.exceptions import BackgroundSpecError, InputPathError, PromptError
from ui import specs
from ui import state as st
from ui.zerogpu import gpu, on_zero_gpu

ROOT = Path(__file__).resolve().parents[1]
CENTER = subject_center(0)
POINT = json.dumps({"points": [list(CENTER)], "labels": [1]})
DISC_FRACTION = np.pi * (CLIP_H // 4) ** 2 / (CLIP_W * CLIP_H)


def _decode(path: str | Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _video_path(value) -> str:
    return value["video"] if isinstance(value, dict) else value


# --- no server ------------------------------------------------------------------------------
def test_session_state_undo_clear_and_job_prompts() -> None:
    state = st.SessionState()
    state.load("clip.mp4", {"kind": "video", "width": 10, "height": 10, "frame_count": 5})
    state.add_point(0, 1, 2, 3, 1)
    state.add_point(0, 2, 5, 5, 0)
    state.set_box(3, 1, (8, 9, 1, 2))
    assert state.click_count() == 3
    assert state.prompts[3][1].box == (1, 2, 8, 9)  # corners normalised
    assert sorted(state.job_prompts()) == [0, 3]
    assert state.undo() and 3 not in state.job_prompts()
    state.clear(0)
    assert state.job_prompts() == {}
    assert state.undo() and state.click_count() == 2
    assert state.add_subject() == 3
    state.load("other.mp4", {"kind": "video"})
    assert state.click_count() == 0 and not state.undo()


def test_specs_parse_prompts_and_refuse_server_paths(tmp_path: Path) -> None:
    parsed = specs.parse_prompts('{"4": [{"points": [[1, 2]], "labels": [0]}, {"box": [0, 0, 5, 5]}]}', 0)
    assert list(parsed) == [4] and parsed[4][0].labels == [0] and parsed[4][1].object_id == 2
    assert specs.parse_prompts('[{"points": [[3, 3]], "frame": 2}]', 0)[2][0].labels == [1]
    with pytest.raises(PromptError):
        specs.parse_prompts("{not json", 0)
    with pytest.raises(PromptError):
        specs.parse_prompts('{"points": [[1, 2]], "labels": [7]}', 0)
    with pytest.raises(InputPathError):
        specs.api_background("image:/etc/passwd", None)
    with pytest.raises(InputPathError):
        specs.api_background("image:../../etc/passwd", None)
    assert specs.api_background("image:backgrounds/sunset.jpg", None).endswith("assets/backgrounds/sunset.jpg")
    assert specs.api_background("image", str(tmp_path / "up.png")) == f"image:{tmp_path / 'up.png'}"
    assert specs.api_background("color:#ABC", None) == "color:#aabbcc"
    assert specs.color_hex("rgba(255, 0, 16.2, 1)") == "#ff0010"
    with pytest.raises(BackgroundSpecError):
        specs.ui_background("image", "#000000", 25, None, None, None, None)


def test_upload_over_the_size_limit_is_refused_at_once_and_a_long_clip_loads_to_be_trimmed(tmp_path: Path) -> None:
    """Too big a picture is refused at upload, not after the queue; a clip over the duration limit
    loads with a note, since a trim (③ options) may keep a part within it."""
    from dataclasses import replace

    from app_config import load_settings
    from core.exceptions import LimitExceededError
    from tests import media
    from ui.handlers import Handlers

    handlers = Handlers(replace(load_settings(), max_side_px=80, max_duration_s=0.5, work_dir=tmp_path / "w"))
    big = media.make_video(tmp_path / "big.mp4", width=96, height=64, frames=4)
    state = st.SessionState(session="sess-lim")
    try:
        with pytest.raises(gr.Error, match="96x64, over the 80 px limit"):
            handlers.load_media(str(big), state, _Request("sess-lim"))
        long = media.make_video(tmp_path / "long.mp4", width=64, height=48, frames=25, fps=25)
        state, image, _, status, *_ = handlers.load_media(str(long), state, _Request("sess-lim"))
        assert image is not None and "a job takes at most 0.5 s of a clip: set Trim start" in status
    finally:
        st.end_session("sess-lim")
    with pytest.raises(LimitExceededError, match="photo is 13000x200"):
        from core.job import check_limits

        check_limits("photo", 13000, 200, 0.0, handlers.settings)


def test_zerogpu_decorator_is_identity_off_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def f(x: int) -> int:
        return x + 1

    assert not on_zero_gpu() and gpu(duration=5)(f) is f
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # not importable -> still a no-op
    assert gpu()(f) is f


def test_dockerfile_lints_and_follows_spaces_conventions() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for needed in ("USER 1000", "EXPOSE 7860", "GRADIO_SERVER_NAME=0.0.0.0", "RUN scripts/setup.sh", "ffmpeg"):
        assert needed in text, needed
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- through gradio_client --------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(studio) -> Client:  # noqa: F811
    return Client(studio.url, verbose=False)


def test_api_lists_the_named_endpoints_only(client: Client) -> None:
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/preview_mask", "/replace_background", "/cutout_image", "/generate_background"} <= names
    assert not any("click" in n or "load_media" in n for n in names)  # UI events stay private


def test_generate_background_endpoint(client: Client) -> None:
    """No weights here: the procedural fallback, at the asked size, with a notice that says so."""
    image, info = client.predict("a quiet beach at sunset", 7, 320, 180, api_name="/generate_background")
    img = cv2.imread(image)
    assert img.shape == (180, 320, 3) and img.std() > 1  # a picture, not a flat fill
    assert info["seed"] == 7 and "procedural" in (info.get("notice") or "")
    with pytest.raises(Exception, match="E301"):
        client.predict("a beach", 7, 5, 180, api_name="/generate_background")


def test_preview_mask_points_and_box(client: Client, subject_clip: Path) -> None:  # noqa: F811
    overlay, alpha, info = client.predict(handle_file(str(subject_clip)), 0, POINT, None, "embedded", "fast",
                                          api_name="/preview_mask")
    alpha_img = cv2.imread(alpha, cv2.IMREAD_GRAYSCALE)
    overlay_img = cv2.imread(overlay)
    assert alpha_img.shape == (CLIP_H, CLIP_W) and overlay_img.shape == (CLIP_H, CLIP_W, 3)
    assert info["engine"] == "embedded" and info["width"] == CLIP_W
    assert alpha_img[CENTER[1], CENTER[0]] > 200 and alpha_img[2, 2] < 30
    assert abs(info["coverage"] - DISC_FRACTION) < 0.5 * DISC_FRACTION
    x, y = CENTER
    r = CLIP_H // 4 + 6
    box = json.dumps({"box": [x - r, y - r, x + r, y + r]})
    _, alpha_box, info_box = client.predict(handle_file(str(subject_clip)), 5, box, None, "embedded", "fast",
                                            api_name="/preview_mask")
    assert info_box["frame_index"] == 5
    assert cv2.imread(alpha_box, cv2.IMREAD_GRAYSCALE)[2, 2] < 30


def test_preview_mask_of_a_correction_that_takes_away(client: Client, subject_clip: Path) -> None:  # noqa: F811
    """A subject marked on frame 0; on frame 5 a 'not subject' point alone: the preview of frame 5
    shows what it takes out, marks nothing as subject, and says so. Without frame 0: error E205."""
    x, y = subject_center(5)
    prompts = json.dumps({"0": [json.loads(POINT)], "5": [{"points": [[x, y]], "labels": [0]}]})
    _, alpha, info = client.predict(handle_file(str(subject_clip)), 5, prompts, None, "embedded", "fast",
                                    api_name="/preview_mask")
    assert cv2.imread(alpha, cv2.IMREAD_GRAYSCALE).max() < 30 and info["objects"] == {}
    assert info["warnings"][0].startswith("striped: taken out of subject 1's matte from this frame on")
    adding = json.dumps({"0": [json.loads(POINT)], "5": [{"points": [[x, y]], "labels": [1]}]})
    _, _, info = client.predict(handle_file(str(subject_clip)), 5, adding, None, "embedded", "fast",
                                api_name="/preview_mask")
    assert info["warnings"][-1].startswith("a correction of subject 1: shown is its matte as the job carries it")
    alone = json.dumps({"5": [{"points": [[x, y]], "labels": [0]}]})
    with pytest.raises(Exception, match="E205"):
        client.predict(handle_file(str(subject_clip)), 5, alone, None, "embedded", "fast", api_name="/preview_mask")
    # no prompts on frame 5, one on frame 0: the matte the job carries to frame 5 ('Matte here')
    _, alpha, info = client.predict(handle_file(str(subject_clip)), 5, json.dumps({"0": [json.loads(POINT)]}), None,
                                    "embedded", "fast", api_name="/preview_mask")
    assert cv2.imread(alpha, cv2.IMREAD_GRAYSCALE)[y, x] > 200 and info["objects"]["1"] > 0
    assert info["warnings"][0].startswith("the matte as the job carries it here from frame 0")


def test_replace_background_full_job(client: Client, subject_clip: Path) -> None:  # noqa: F811
    composite, alpha, files, report = client.predict(
        handle_file(str(subject_clip)), POINT, 0, None, "color:#ff0000", None, "embedded", "fast",
        ["composite.mp4", "alpha.mp4", "foreground.webm"], 0, 0, 0, 0, 0, 0, True, 0,
        api_name="/replace_background")
    frames = _decode(_video_path(composite))
    assert len(frames) == CLIP_FRAMES
    last = frames[-1].astype(int)
    cx, cy = subject_center(CLIP_FRAMES - 1)
    assert last[4, 4, 0] > 180 and last[4, 4, 1] < 70  # background replaced by red
    assert last[cy, cx, 0] > 180 and 90 < last[cy, cx, 1] < 210  # the orange subject kept, tracked
    assert len(_decode(_video_path(alpha))) == CLIP_FRAMES
    names = {Path(f).name for f in files}
    assert {"composite.mp4", "alpha.mp4", "foreground.webm", "report.json"} <= names
    assert report["engine"] == "embedded"


def test_cutout_image(client: Client, subject_photo: Path) -> None:  # noqa: F811
    cutout, composite, report = client.predict(handle_file(str(subject_photo)), POINT, None, "color:#0000ff",
                                               None, "embedded", "fast", 0, 0, 0, 0, api_name="/cutout_image")
    rgba = cv2.imread(cutout, cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (CLIP_H, CLIP_W, 4)
    assert rgba[CENTER[1], CENTER[0], 3] > 200 and rgba[2, 2, 3] < 30
    comp = cv2.cvtColor(cv2.imread(composite), cv2.COLOR_BGR2RGB).astype(int)
    assert comp[2, 2, 2] > 200 and comp[2, 2, 0] < 60
    assert report["engine"] == "embedded"


def test_a_clip_sent_to_the_photo_endpoint_is_refused_before_any_job(client: Client, subject_clip: Path,  # noqa: F811
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """/cutout_image is for photos: a clip sent to it was matted whole (seconds to minutes of work)
    and only then refused. The studio runs in this process: no job may start."""
    from ui import compute

    jobs = []
    monkeypatch.setattr(compute, "run_job", lambda *a, **k: jobs.append(a))
    with pytest.raises(AppError, match="E106.*this endpoint is for photos"):
        client.predict(handle_file(str(subject_clip)), POINT, None, "transparent", None, "embedded", "fast",
                       0, 0, 0, 0, api_name="/cutout_image")
    assert jobs == []


def test_bad_input_gets_coded_error_and_server_stays_up(client: Client, subject_clip: Path,  # noqa: F811
                                                        tmp_path: Path) -> None:
    outside = json.dumps({"points": [[CLIP_W + 50, 5]]})
    with pytest.raises(AppError, match="E201"):
        client.predict(handle_file(str(subject_clip)), 0, outside, None, "embedded", "fast",
                       api_name="/preview_mask")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AppError, match=r"E10\d"):
        client.predict(handle_file(str(junk)), 0, POINT, None, "embedded", "fast", api_name="/preview_mask")
    with pytest.raises(AppError, match="E106"):
        client.predict(handle_file(str(subject_clip)), POINT, 0, None, "image:/etc/hostname", None, "embedded",
                       "fast", ["composite.mp4"], 0, 0, 0, 0, 0, 0, True, 0, api_name="/replace_background")
    with pytest.raises(AppError, match="E200"):
        client.predict(handle_file(str(subject_clip)), 0, "{oops", None, "embedded", "fast",
                       api_name="/preview_mask")
    _, _, info = client.predict(handle_file(str(subject_clip)), 0, POINT, None, "embedded", "fast",
                                api_name="/preview_mask")
    assert info["coverage"] > 0  # still serving


def test_two_clients_at_once_get_their_own_results(studio, subject_clip: Path) -> None:  # noqa: F811
    colours = {"a": ("#ff0000", 0), "b": ("#0000ff", 2)}
    results: dict[str, tuple] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            c = Client(studio.url, verbose=False)
            results[name] = c.predict(
                handle_file(str(subject_clip)), POINT, 0, None, f"color:{colours[name][0]}", None, "embedded",
                "fast", ["composite.mp4"], 0, 0, 0, 0, 0, 0, False, 0, api_name="/replace_background")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in colours]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    paths = {n: _video_path(r[0]) for n, r in results.items()}
    assert paths["a"] != paths["b"]
    for name, (_, channel) in colours.items():
        corner = _decode(paths[name])[0][3, 3].astype(int)
        assert corner[channel] > 180 and corner[2 - channel] < 70, (name, corner)


# --- cancel and session end, through the handlers (no browser needed) ---------------------------
class _Request:
    def __init__(self, session_hash: str) -> None:
        self.session_hash = session_hash


def test_cancel_stops_this_sessions_job_and_unload_removes_its_files(tmp_path: Path) -> None:
    from dataclasses import replace

    from studio_fixtures import write_subject_clip

    from app_config import load_settings
    from core.exceptions import JobCancelledError
    from core.job import JobRequest
    from models.base import ObjectPrompt
    from ui import compute
    from ui.handlers import Handlers

    settings = replace(load_settings(), engine="embedded", quality="fast", work_dir=tmp_path / "work",
                       chunk_frames=2)
    clip = write_subject_clip(tmp_path / "long.mp4", frames=40, audio=False)
    handlers = Handlers(settings)
    state = st.SessionState(session="sess-a")
    res = st.resources("sess-a", settings)
    out = st.new_job_folder("sess-a", settings)
    updates: list[float] = []

    def on_progress(update) -> None:  # the person presses Cancel as soon as frames flow
        updates.append(update.fraction)
        if update.frame > 0:
            handlers.cancel(state, _Request("sess-a"))

    job = JobRequest(input_path=clip, out_dir=out, prompts={0: [ObjectPrompt(1, [CENTER], [1])]},
                     background="color:#00ff00", engine="embedded", quality="fast")
    with pytest.raises(JobCancelledError):
        compute.run_job(job, on_progress, res.cancel, settings)
    assert updates and max(updates) < 1.0
    assert not any(out.iterdir()), "a cancelled job left files behind"
    other = st.resources("sess-b", settings)
    assert not other.cancel.is_set()  # another person's job is untouched
    handlers.unload(_Request("sess-a"))
    assert not res.folder.exists() and "sess-a" not in st.active_sessions()
    st.end_session("sess-b")


def test_the_studio_takes_camcorder_and_old_phone_videos(tmp_path: Path) -> None:
    """The upload's "video" type goes by MIME type, which files .ts as a Qt translation and .3gp as
    audio: the studio names such suffixes itself, and still refuses what is neither."""
    import gradio as gr
    from gradio.data_classes import FileData

    from ui.studio import MEDIA_TYPES

    upload = gr.File(file_types=MEDIA_TYPES, type="filepath")
    for name in ("clip.m2ts", "clip.MTS", "clip.ts", "clip.3gp", "clip.mp4", "clip.mkv", "photo.jpg"):
        path = tmp_path / name
        path.write_bytes(b"media")
        assert upload.preprocess(FileData(path=str(path))) == str(path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not media")
    with pytest.raises(gr.Error):
        upload.preprocess(FileData(path=str(notes)))


def test_the_studio_shows_an_anamorphic_clip_as_wide_as_it_is_shown_and_clicks_land_right(tmp_path: Path) -> None:
    """Widescreen PAL stores 90x72 pixels shown 128x72: the frame on screen is shown wide, and a
    click on it is put back in stored pixels (what the job and the CLI take)."""
    from dataclasses import replace
    from fractions import Fraction
    from types import SimpleNamespace

    from app_config import load_settings
    from tests import media
    from ui.handlers import Handlers, describe_media

    clip = media.make_video(tmp_path / "pal.mp4", width=90, height=72, frames=4, sample_aspect=Fraction(64, 45))
    settings = replace(load_settings(), engine="embedded", quality="fast", work_dir=tmp_path / "work")
    handlers = Handlers(settings)
    state = st.SessionState(session="sess-pal")
    try:
        state, image, *_ = handlers.load_media(str(clip), state, _Request("sess-pal"))
        shown_h, shown_w = image.shape[:2]
        assert abs(shown_w / shown_h - 128 / 72) < 0.02  # not 90:72
        assert "90×72 (shown 128×72)" in describe_media(clip.name, state.info)
        x_shown, y_shown = shown_w * 0.25, shown_h * 0.5
        handlers.click(state, st.MODE_SUBJECT, 1, "embedded", "fast", SimpleNamespace(index=[x_shown, y_shown]),
                       _Request("sess-pal"))
        (x, y), = state.prompts[0][1].points
        assert abs(x - 90 * 0.25) < 0.6 and abs(y - 72 * 0.5) < 0.6
    finally:
        st.end_session("sess-pal")


def test_a_work_folder_the_studio_cannot_make_is_said_at_its_start(tmp_path) -> None:
    """BGFX_WORK_DIR where no folder can be made (under a file, on a read-only system) was an internal
    error (E900) when the studio started; it is the settings' coded error, naming the folder."""
    from dataclasses import replace

    from app_config import load_settings
    from core.exceptions import ConfigError
    from ui.studio import launch

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="work folder .*a-file/studio.* cannot be made"):
        launch(replace(load_settings(), work_dir=blocker / "studio"), prevent_thread_lock=True, quiet=True)


def test_a_port_already_taken_is_said_plainly(tmp_path) -> None:
    """A second studio on a port another server holds was an internal error (E900) quoting Gradio."""
    import socket
    from dataclasses import replace

    from app_config import load_settings
    from core.exceptions import ConfigError
    from ui.studio import launch

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = replace(load_settings(), work_dir=tmp_path, port=port)
        with pytest.raises(ConfigError, match=f"port {port} is taken"):
            launch(settings, server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
