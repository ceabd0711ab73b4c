"""Generated (``prompt:``) backgrounds through the real diffusers classes with tiny random weights.

The tiny Stable Diffusion pipeline (tests/tiny_diffusers.py) is saved as a diffusers folder and
loaded by our loader with ``from_pretrained``, so loading, sizing, callbacks, outpainting, caching
and the fallback run as in production; only the pictures are noise.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from app_config import Settings, load_settings
from core.compositing import fit_cover as scale_to_cover
from core.exceptions import BackgroundSpecError, JobCancelledError
from models import bg_generator
from models.backgrounds.base import OutputGeometry
from models.backgrounds.generated import GeneratedBackground
from models.bg_generator import BgModel, generate_background_image
from models.bg_sizing import plan_size
from tests.tiny_diffusers import build_tiny_pipeline, save_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-sd")


@pytest.fixture(autouse=True)
def fresh_models():
    """Each test starts with no loaded pipeline and without the test models registered."""
    before = dict(bg_generator.BG_MODELS)
    bg_generator.clear_generator_cache()
    yield
    bg_generator.BG_MODELS.clear()
    bg_generator.BG_MODELS.update(before)
    bg_generator.clear_generator_cache()


@pytest.fixture
def settings(tmp_path, tiny_folder) -> Settings:
    """Settings whose model is the tiny checkpoint on disk, run like sd-turbo (2 steps, no guidance)."""
    bg_generator.register_bg_model(BgModel("tiny", str(tiny_folder), steps=2, guidance=0.0, native_px=64))
    return Settings(bg_model="tiny", device="cpu", work_dir=tmp_path / "work")


def test_real_pipeline_makes_requested_size_and_reports_progress(settings):
    calls: list[tuple[float, str]] = []
    image, info = generate_background_image(
        "the sky", 3, 96, 64, settings, progress=lambda f, m: calls.append((f, m))
    )
    assert image.shape == (64, 96, 3) and image.dtype == np.uint8
    assert image.std() > 1.0, "a flat picture means nothing was decoded"
    assert (
        info["model"] == "tiny" and info["seed"] == 3 and info["cached"] is False and info["notice"] is None
    )
    assert info["outpainted"] is False
    assert all(side % 16 == 0 for side in info["drawn_at"])  # tiny VAE factor 2 x 8
    assert [f for f, _ in calls] == [0.5, 1.0]  # one report per denoising step
    assert "step 2/2" in calls[-1][1]
    vae = bg_generator.get_generator(settings).pipeline.vae
    assert vae.use_slicing and vae.use_tiling  # memory savers on the VAE, where diffusers 0.42 has them


def test_cache_hit_skips_model_and_seed_is_reproducible(settings, tmp_path, monkeypatch):
    first, info = generate_background_image("the sky", 7, 64, 64, settings)
    assert list((settings.work_dir / "bg-cache").glob("*.png")), "no cache entry written"

    def must_not_run(*args, **kwargs):
        raise AssertionError("the model ran although the picture was cached")

    bg_generator.clear_generator_cache()
    monkeypatch.setattr(bg_generator, "load_pipeline", must_not_run)
    again, info2 = generate_background_image("the sky", 7, 64, 64, settings)
    assert info2["cached"] is True and info2["model"] == "tiny"
    assert np.array_equal(first, again)
    monkeypatch.undo()

    other, info3 = generate_background_image("the sky", 8, 64, 64, settings)
    assert info3["cached"] is False and not np.array_equal(first, other)

    fresh = replace(settings, work_dir=tmp_path / "elsewhere")
    same, info4 = generate_background_image("the sky", 7, 64, 64, fresh)
    assert info4["cached"] is False and np.array_equal(first, same)  # same seed, same picture


def test_checkpoint_dir_is_searched_and_a_broken_folder_falls_back(tiny_folder, tmp_path):
    bg_generator.register_bg_model(BgModel("tiny-sd", "someone/tiny-sd", steps=1, guidance=0.0, native_px=64))
    settings = Settings(
        bg_model="tiny-sd", device="cpu", work_dir=tmp_path, checkpoint_dir=tiny_folder.parent
    )
    image, info = generate_background_image("the sky", 1, 64, 64, settings)
    assert info["model"] == "tiny-sd" and info["notice"] is None and image.shape == (64, 64, 3)

    broken = tmp_path / "ckpts" / "tiny-sd"
    broken.mkdir(parents=True)
    (broken / "model_index.json").write_text("{}")
    bg_generator.clear_generator_cache()
    settings = replace(settings, checkpoint_dir=broken.parent)
    image, info = generate_background_image("the sky", 1, 64, 48, settings)
    assert image.shape == (48, 64, 3) and "cannot load tiny-sd" in info["notice"]


def test_extreme_aspect_is_outpainted_not_stretched(settings):
    calls: list[float] = []
    wide, info = generate_background_image(
        "the sky", 5, 160, 48, settings, progress=lambda f, m: calls.append(f)
    )
    assert wide.shape == (48, 160, 3)
    assert info["outpainted"] is True and info["drawn_at"] == [160, 48]
    assert len(calls) == 4 and calls[-1] == 1.0  # 2 steps to draw + 2 to outpaint
    # The model draws the centre at 2:1 (96x48) exactly as a 96x48 request would; it is kept.
    centre, info2 = generate_background_image("the sky", 5, 96, 48, settings)
    assert info2["outpainted"] is False
    inner = slice(12, 84)
    diff = np.abs(wide[:, 32:128][:, inner].astype(int) - centre[:, inner].astype(int))
    assert diff.max() <= 1
    assert np.abs(wide[:, :20].astype(int) - np.fliplr(centre[:, :20]).astype(int)).mean() > 1  # redrawn


@pytest.mark.parametrize(
    "size", [(1920, 1080), (1080, 1920), (640, 480), (100, 100), (2400, 1000), (480, 1280)]
)
def test_size_plan_keeps_aspect_in_model_multiples(size):
    width, height = size
    plan = plan_size(width, height, native_px=512, multiple=64)
    for side in (plan.base_w, plan.base_h, plan.canvas_w, plan.canvas_h):
        assert side % 64 == 0
    assert 0.7 < plan.base_w * plan.base_h / 512**2 < 1.3
    assert abs(plan.canvas_w / plan.canvas_h - width / height) / (width / height) < 0.12
    assert max(plan.base_w / plan.base_h, plan.base_h / plan.base_w) <= 2.0 + 1e-6
    assert plan.outpaint == (max(width / height, height / width) > 2.0)


def test_scale_to_cover_never_stretches():
    picture = np.zeros((64, 64, 3), np.uint8)
    cv2.circle(picture, (32, 32), 20, (255, 255, 255), -1)
    for width, height in [(200, 90), (90, 200), (31, 17)]:
        out = scale_to_cover(picture, width, height)
        assert out.shape == (height, width, 3)
        ys, xs = np.nonzero(out[..., 0] > 127)
        if width > height:  # the circle is cut at top and bottom, its width shows the scale
            assert abs((xs.max() - xs.min()) - 40 * width / 64) <= 2
        else:
            assert abs((ys.max() - ys.min()) - 40 * height / 64) <= 2


def test_generated_background_role_with_injected_pipeline(tmp_path):
    built: list[int] = []

    def factory():
        built.append(1)
        return build_tiny_pipeline(tmp_path / "parts")

    bg_generator.register_bg_model(BgModel("tiny-factory", "local/tiny", 2, 0.0, 64, factory=factory))
    settings = Settings(device="cpu", work_dir=tmp_path / "work")
    source = GeneratedBackground('"a quiet beach"', seed=11, settings=settings, model="tiny-factory")
    source.open(OutputGeometry(80, 48, frame_count=10, fps=25.0))
    first = source.frame(0, np.zeros((48, 80, 3), np.uint8), np.zeros((48, 80), np.float32))
    assert first.shape == (48, 80, 3) and first.dtype == np.uint8
    assert source.frame(9, None, None) is first and not first.flags.writeable
    assert source.notice is None and source.info["model"] == "tiny-factory" and source.info["seed"] == 11
    second = GeneratedBackground("a quiet beach", seed=12, settings=settings, model="tiny-factory")
    second.open(OutputGeometry(80, 48, frame_count=10, fps=25.0))
    assert built == [1], "the pipeline must be loaded once per process"


def test_no_weights_falls_back_to_procedural_with_notice(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = Settings(bg_model="nobody/no-such-model", device="cpu", work_dir=tmp_path / "work")
    loads: list[int] = []
    real_load = bg_generator.load_pipeline
    monkeypatch.setattr(bg_generator, "load_pipeline", lambda *a: (loads.append(1), real_load(*a))[1])
    source = GeneratedBackground("deep blue ocean", seed=1, settings=settings)
    source.open(OutputGeometry(120, 80, frame_count=3, fps=30.0))
    picture = source.frame(0, None, None)
    assert picture.shape == (80, 120, 3)
    assert "procedural" in source.notice and "HF_HUB_OFFLINE" in source.notice
    assert source.info["model"].startswith("procedural:")
    assert picture[..., 2].mean() > picture[..., 0].mean() + 20  # the prompt said blue
    assert not (settings.work_dir / "bg-cache").exists(), "a fallback must not be cached"
    _, info = generate_background_image("deep blue ocean", 1, 120, 80, settings)
    assert info["notice"] and loads == [1], "a failed load is remembered, not retried per job"


def test_generation_error_falls_back_but_cancel_propagates(settings, monkeypatch):
    def oom(self, *args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(bg_generator.BackgroundGenerator, "generate", oom)
    image, info = generate_background_image("studio portrait", 1, 64, 48, settings)
    assert image.shape == (48, 64, 3) and "CUDA out of memory" in info["notice"]
    assert info["model"] == "procedural:studio"
    monkeypatch.undo()

    def cancel(fraction, message):
        raise JobCancelledError("cancelled by the user")

    with pytest.raises(JobCancelledError):
        generate_background_image("the sky", 1, 64, 48, settings, progress=cancel)


def test_bad_requests_get_coded_errors(settings):
    with pytest.raises(BackgroundSpecError):
        GeneratedBackground('  ""  ')
    with pytest.raises(BackgroundSpecError) as err:
        generate_background_image("sky", None, 0, 64, settings)
    assert err.value.code == "E301" and err.value.hint
    with pytest.raises(BackgroundSpecError):
        generate_background_image("sky", -1, 64, 64, settings)
    with pytest.raises(BackgroundSpecError):
        generate_background_image("   ", 1, 64, 64, settings)


def test_model_registry_and_setting(monkeypatch):
    turbo = bg_generator.resolve_bg_model("sd-turbo")
    assert bg_generator.resolve_bg_model("stabilityai/sd-turbo") is turbo
    assert 1 <= turbo.steps <= 4 and turbo.guidance == 0.0 and "Non-Commercial" in turbo.licence
    monkeypatch.setenv("BGFX_BG_MODEL", "sdxl")
    quality = bg_generator.resolve_bg_model(load_settings().bg_model)
    assert quality.steps > turbo.steps and quality.native_px == 1024
    custom = bg_generator.resolve_bg_model("someone/other-model")
    assert custom.repo_id == "someone/other-model" and custom.guidance > 0
    assert bg_generator.runtime_plan("cuda") == (torch.float16, True)
    assert bg_generator.runtime_plan("cpu") == (torch.float32, False)


def test_generator_loads_once_across_threads(tmp_path):
    built: list[int] = []

    def slow_factory():
        built.append(1)
        time.sleep(0.2)  # two jobs starting together must still share one load
        return build_tiny_pipeline(tmp_path / "parts")

    bg_generator.register_bg_model(BgModel("tiny-slow", "local/tiny", 2, 0.0, 64, factory=slow_factory))
    settings = Settings(bg_model="tiny-slow", device="cpu", work_dir=tmp_path)
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(bg_generator.get_generator(settings))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 3 and all(g is got[0] for g in got) and built == [1]
