"""Loading the real engines: registry, where weights come from, fail-fast, sharing, fallback.

Nothing here touches the network: the hub is offline or pointed at a local port.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import media
import pytest
import torch

from app_config import PRESETS, Settings
from core.exceptions import EngineUnavailableError, WeightsUnavailableError
from models import model_loader
from models.model_loader import MODELS, ModelSpec, cached_network, resolve_checkpoint, spec_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _empty_offline_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)


def random_settings(**changes) -> Settings:
    return dataclasses.replace(Settings(), weights="random", device="cpu", **changes)


def test_registry_covers_the_checkpoints_and_presets():
    repos = {spec.repo_id for spec in MODELS.values()}
    for size in ("tiny", "small", "base-plus", "large"):
        assert f"facebook/sam2.1-hiera-{size}" in repos
    assert {"PeiqingYang/MatAnyone", "PeiqingYang/MatAnyone2"} <= repos
    for preset in PRESETS.values():
        assert spec_for(preset.sam2_model, "segmenter").role == "segmenter"
        assert spec_for(preset.matanyone_model, "matter").role == "matter"
    assert spec_for("sam2.1-base+", "segmenter").key == "sam2.1-base-plus"
    with pytest.raises(EngineUnavailableError):
        spec_for("matanyone", "segmenter")


def test_checkpoint_dir_is_searched_first(tmp_path):
    spec = spec_for("matanyone2", "matter")
    folder = tmp_path / "ckpt"
    (folder / "MatAnyone2").mkdir(parents=True)
    (folder / "MatAnyone2" / "model.safetensors").write_bytes(b"x")
    settings = random_settings(checkpoint_dir=folder)
    assert resolve_checkpoint(spec, settings) == folder / "MatAnyone2" / "model.safetensors"
    (folder / "matanyone2.pth").write_bytes(b"x")  # the GitHub release's name
    assert resolve_checkpoint(spec, settings) == folder / "matanyone2.pth"


def test_hub_cache_is_used_offline(tmp_path):
    spec = spec_for("sam2.1-tiny", "segmenter")
    repo = tmp_path / "hf" / "hub" / "models--facebook--sam2.1-hiera-tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / spec.filename).write_bytes(b"weights")
    assert resolve_checkpoint(spec, random_settings()).read_bytes() == b"weights"


def test_offline_empty_cache_fails_at_once_with_how_to():
    spec = spec_for("sam2.1-small", "segmenter")
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_checkpoint(spec, random_settings())
    assert time.perf_counter() - started < 2
    assert err.value.code == "E501" and "HF_HUB_OFFLINE" in err.value.message
    assert "facebook/sam2.1-hiera-small" in err.value.hint and "BGFX_CHECKPOINT_DIR" in err.value.hint


def test_unreachable_or_silent_hub_fails_fast(monkeypatch):
    """Online mode, but the hub refuses the connection, or accepts it and never answers."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)  # the library read it at import
    spec = spec_for("sam2.1-tiny", "segmenter")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="the hub does not give them: ConnectError"):
        resolve_checkpoint(spec, random_settings(hub_timeout_s=1.0))
    assert time.perf_counter() - started < 3

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    accepting.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="Timeout"):
        resolve_checkpoint(spec, random_settings(hub_timeout_s=1.0))
    elapsed = time.perf_counter() - started
    assert 0.9 < elapsed < 5, elapsed  # waited for the timeout once, no retries
    accepting.join(1)
    for conn in held:
        conn.close()
    silent.close()


def test_one_build_per_key_under_concurrency():
    spec = ModelSpec("test-net", "matter", "nobody/none", "none.bin")
    calls = []

    def slow_build():
        calls.append(1)
        time.sleep(0.2)
        return object()

    got = []
    threads = [threading.Thread(target=lambda: got.append(cached_network(spec, "random", "cpu", slow_build)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(x) for x in got}) == 1
    assert "test-net/random/cpu" in model_loader.loaded_models()


def test_load_real_engine_shares_networks_and_releases_them():
    settings = random_settings(quality="fast")
    seg_a, factory_a, description = model_loader.load_real_engine(settings)
    seg_b, factory_b, _ = model_loader.load_real_engine(settings)
    assert "RANDOM WEIGHTS" in description and description.startswith("SAM2.1-tiny + MatAnyone on cpu")
    assert seg_a is not seg_b and seg_a._predictor.model is seg_b._predictor.model
    m1, m2 = factory_a(), factory_b()
    assert m1 is not m2 and m1._network is m2._network
    assert m1.options.max_internal_size == PRESETS["fast"].matanyone_max_size
    assert m1.options.n_warmup == PRESETS["fast"].matanyone_warmup
    assert m1.options.cuda_graphs is True and m1.graph_stats() is None  # graphs on CUDA only
    _, eager_factory, _ = model_loader.load_real_engine(random_settings(quality="fast", cuda_graphs=False))
    assert eager_factory().options.cuda_graphs is False
    assert model_loader.release_models() >= 2
    assert model_loader.loaded_models() == []
    seg_c, _, _ = model_loader.load_real_engine(settings)
    assert seg_c._predictor.model is not seg_a._predictor.model


def test_release_after_use_frees_sam2_once_the_masks_are_made(monkeypatch):
    """A one-job process: closing the segmenter evicts SAM2 and frees it; MatAnyone stays."""
    import gc
    import weakref

    import numpy as np

    from models.base import ObjectPrompt

    model_loader.release_models()
    monkeypatch.setattr(model_loader, "_RELEASE_AFTER_USE", False)  # the studio's behaviour
    settings = random_settings(quality="fast")
    kept, _, _ = model_loader.load_real_engine(settings)
    kept.close()
    assert "sam2.1-tiny/random/cpu" in model_loader.loaded_models()
    model_loader.release_after_use()
    segmenter, factory, _ = model_loader.load_real_engine(settings)
    network = weakref.ref(segmenter._predictor.model)
    del kept
    image = np.zeros((96, 128, 3), np.uint8)
    image[20:70, 40:90] = 200
    segmenter.set_image(image)
    segmenter.segment(ObjectPrompt(points=[(64, 45)], labels=[1]))
    segmenter.close()
    gc.collect()
    assert network() is None
    assert model_loader.loaded_models() == ["matanyone/random/cpu"]
    assert factory() is not None
    model_loader.release_models()


def test_hub_mode_loads_checkpoint_files(tmp_path, monkeypatch):
    """Weights mode ``hub`` with a checkpoint folder: the files' weights end up in the networks,
    each file looked up once."""
    from models.matanyone_matter import build_matanyone_network
    from models.random_weights import seeded
    from models.sam2_segmenter import build_sam2_model

    with seeded(11):
        sam = build_sam2_model(MODELS["sam2.1-tiny"].config, None, torch.device("cpu"))
        mat = build_matanyone_network(None, torch.device("cpu"))
    torch.save({"model": sam.state_dict()}, tmp_path / "sam2.1_hiera_tiny.pt")
    torch.save(mat.state_dict(), tmp_path / "matanyone.pth")
    settings = dataclasses.replace(Settings(), weights="hub", device="cpu", quality="fast",
                                   checkpoint_dir=tmp_path)
    model_loader.release_models()
    looked_up = []
    resolve = model_loader.resolve_checkpoint
    monkeypatch.setattr(model_loader, "resolve_checkpoint",
                        lambda spec, s: looked_up.append(spec.role) or resolve(spec, s))
    segmenter, factory, description = model_loader.load_real_engine(settings)
    assert sorted(looked_up) == ["matter", "segmenter"]
    assert "RANDOM" not in description
    loaded_sam = segmenter._predictor.model.state_dict()
    name = "sam_mask_decoder.iou_prediction_head.layers.0.weight"
    assert torch.equal(loaded_sam[name], sam.state_dict()[name])
    assert torch.equal(factory()._network.state_dict()["key_proj.key_proj.weight"],
                       mat.state_dict()["key_proj.key_proj.weight"])
    model_loader.release_models()


def test_engine_choice_falls_back_or_fails_loudly():
    from models.engines import resolve_engine

    hub = dataclasses.replace(Settings(), weights="hub", device="cpu")
    choice = resolve_engine("auto", hub)
    assert choice.name == "embedded" and "HF_HUB_OFFLINE" in choice.reason
    with pytest.raises(WeightsUnavailableError):
        resolve_engine("sam2", hub)


def test_fallback_decides_before_importing_torch(tmp_path):
    """Without weights, ``auto`` must not import torch, sam2 and MatAnyone first (seconds per job)."""
    code = ("import sys, dataclasses; from app_config import Settings; from models.engines import resolve_engine; "
            "choice = resolve_engine('auto', dataclasses.replace(Settings(), weights='hub')); "
            "print(choice.name, 'torch' in sys.modules, 'sam2' in sys.modules)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["embedded", "False", "False"]


def _cli(clip: Path, out: Path, engine: str, env_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(env_home), "BGFX_WEIGHTS": "hub"}
    return subprocess.run([sys.executable, "app.py", "process", str(clip), "--out", str(out), "--point", "40,30",
                           "--engine", engine, "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300)


def test_cli_offline_auto_runs_embedded_and_sam2_says_why(tmp_path):
    clip = media.make_video(tmp_path / "in.mp4", width=80, height=64, frames=6)
    auto = _cli(clip, tmp_path / "auto", "auto", tmp_path / "hf")
    assert auto.returncode == 0, auto.stderr
    report = json.loads((tmp_path / "auto" / "report.json").read_text())
    assert report["engine"] == "embedded"
    assert "not in the Hugging Face cache" in report["engine_reason"]
    sam2 = _cli(clip, tmp_path / "sam2", "sam2", tmp_path / "hf")
    lines = [line for line in sam2.stderr.splitlines() if line.strip() and "WARNING" not in line]
    assert sam2.returncode != 0 and not (tmp_path / "sam2").exists()
    assert lines[-1].startswith("error E501: ") and "BGFX_CHECKPOINT_DIR" in lines[-1]
    assert "Traceback" not in sam2.stderr


def test_engine_description_says_when_cuda_graphs_run():
    import types

    sam, matter = spec_for("sam2.1-tiny", "segmenter"), spec_for("matanyone", "matter")
    cuda, cpu = types.SimpleNamespace(type="cuda"), types.SimpleNamespace(type="cpu")
    line = model_loader.describe_engine(sam, matter, cuda, "torch.bfloat16", "hub", cuda_graphs=True)
    assert line == "SAM2.1-tiny + MatAnyone on cuda (bfloat16, CUDA graphs)"
    assert "CUDA graphs" not in model_loader.describe_engine(sam, matter, cuda, "torch.bfloat16", "hub")
    assert "CUDA graphs" not in model_loader.describe_engine(sam, matter, cpu, None, "hub", cuda_graphs=True)
