"""MatAnyone adapter: the real architecture with random weights, tiny frames, CPU, no download.

The fidelity test runs MatAnyone's own demo loop (``hugging_face/matanyone2_wrapper.py`` from the
matanyone2 package, the function its Gradio demo calls) and our streaming adapter on the same
frames with the same network, and compares every alpha.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from app_config import Settings
from core.exceptions import EmptyMaskError, EngineFailedError, LimitExceededError
from models.matanyone_matter import (
    MatAnyoneMatter,
    MatAnyoneOptions,
    build_matanyone_network,
    matanyone_config,
    use_frugal_decoder,
)
from models.model_loader import get_network, spec_for
from models.random_weights import seeded, tame_matanyone

H, W = 112, 144  # smallest sizes MatAnyone's top-k memory read accepts are about 96x96
INTERNAL = 96  # forces InferenceCore's own down/up-scaling, as a preset does on real clips


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.fixture(scope="module")
def network():
    settings = dataclasses.replace(Settings(), weights="random", device="cpu")
    return get_network(spec_for("matanyone", "matter"), settings, torch.device("cpu"))


def make_clip(count: int, seed: int = 3) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured background with a bright square moving right; the mask of its first position."""
    rng = np.random.default_rng(seed)
    background = (rng.random((H, W, 3)) * 120).astype(np.uint8)
    frames = []
    for i in range(count):
        frame = background.copy()
        x = 30 + 2 * i
        frame[30:90, x:x + 50] = (220, 180 - i, 90)
        frames.append(frame)
    mask = np.zeros((H, W), bool)
    mask[30:90, 30:80] = True
    return frames, mask


def run_adapter(network, frames, mask, options: MatAnyoneOptions) -> list[np.ndarray]:
    matter = MatAnyoneMatter(network, options)
    alphas = [matter.start(frames[0], mask)]
    alphas += [matter.step(frame) for frame in frames[1:]]
    matter.close()
    return alphas


def run_demo_loop(network, frames, mask, options: MatAnyoneOptions) -> list[np.ndarray]:
    """MatAnyone's demo, unchanged: its wrapper function drives InferenceCore over all frames.

    The wrapper returns alphas rounded to uint8; we record the float alphas it computes by
    watching ``output_prob_to_mask``, the call it makes once per frame.
    """
    from hugging_face.matanyone2_wrapper import matanyone2 as demo_matting
    from matanyone2.inference.inference_core import InferenceCore

    cfg = matanyone_config(options.max_internal_size)
    processor = InferenceCore(network, cfg=cfg, device=torch.device("cpu"))
    seen: list[np.ndarray] = []
    original = processor.output_prob_to_mask

    def record(output_prob, matting=True):
        result = original(output_prob, matting)
        seen.append(result.float().cpu().numpy().copy())
        return result

    processor.output_prob_to_mask = record
    _, phas = demo_matting(processor, list(frames), mask.astype(np.uint8) * 255, r_erode=options.r_erode,
                           r_dilate=options.r_dilate, n_warmup=options.n_warmup)
    assert len(phas) == len(frames)
    return seen[-len(frames):]


def test_streaming_adapter_equals_demo_loop(network):
    frames, mask = make_clip(20)
    options = MatAnyoneOptions(max_internal_size=INTERNAL, n_warmup=2, r_erode=5, r_dilate=5)
    ours = run_adapter(network, frames, mask, options)
    theirs = run_demo_loop(network, frames, mask, options)
    assert len(ours) == len(theirs) == 20
    for alpha in ours:
        assert alpha.shape == (H, W) and alpha.dtype == np.float32
        assert np.isfinite(alpha).all() and alpha.min() >= 0.0 and alpha.max() <= 1.0
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True))
    assert diff <= 1e-4, f"max abs difference {diff}"
    # The alphas are not trivially equal: they vary over the frame and from frame to frame.
    assert float(np.std(ours[5])) > 1e-3
    assert float(np.abs(ours[1] - ours[19]).max()) > 1e-3
    # And the comparison can fail: one warm-up step fewer already moves the alphas past the tolerance
    # (random weights react weakly to the mask, so this is the finest deviation they show).
    off_by_one = run_adapter(network, frames[:2], mask, dataclasses.replace(options, n_warmup=1))
    assert max(float(np.abs(a - b).max()) for a, b in zip(off_by_one, theirs[:2], strict=True)) > 1e-4


def test_first_mask_is_the_demos(network):
    from matanyone2.utils.inference_utils import gen_dilate, gen_erosion

    _, mask = make_clip(1)
    matter = MatAnyoneMatter(network, MatAnyoneOptions(r_erode=7, r_dilate=3))
    expected = gen_erosion(gen_dilate(mask.astype(np.float32) * 255, 3, 3), 7, 7)
    np.testing.assert_array_equal(matter.first_mask(mask), expected)
    soft = mask.astype(np.float32) * 0.5
    plain = MatAnyoneMatter(network, MatAnyoneOptions(r_erode=0, r_dilate=0)).first_mask(soft)
    assert plain.max() == pytest.approx(127.5)


def test_bad_use_gives_coded_errors(network):
    frames, mask = make_clip(2)
    matter = MatAnyoneMatter(network, MatAnyoneOptions(n_warmup=0))
    with pytest.raises(EngineFailedError):
        matter.step(frames[0])
    with pytest.raises(EmptyMaskError):
        matter.start(frames[0], np.zeros_like(mask))
    with pytest.raises(LimitExceededError):
        matter.start(frames[0][:48, :48], mask[:48, :48])


def test_random_build_makes_no_download_and_is_reproducible(tmp_path):
    cfg = matanyone_config()
    assert cfg.model.pretrained_resnet is False
    with seeded():
        first = build_matanyone_network(None, torch.device("cpu"))
    with seeded():
        second = build_matanyone_network(None, torch.device("cpu"))
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not (tmp_path / "torch").exists(), "building MatAnyone fetched ImageNet weights"


def test_checkpoint_files_load_and_bad_ones_are_refused(tmp_path):
    from safetensors.torch import save_file

    with seeded(7):
        source = tame_matanyone(build_matanyone_network(None, torch.device("cpu")))
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    torch.save(state, tmp_path / "matanyone.pth")
    save_file(state, str(tmp_path / "model.safetensors"))
    for name in ("matanyone.pth", "model.safetensors"):
        loaded = build_matanyone_network(tmp_path / name, torch.device("cpu"))
        assert torch.equal(loaded.state_dict()["key_proj.key_proj.weight"], state["key_proj.key_proj.weight"])
    broken = {k: v for k, v in state.items() if not k.startswith("mask_decoder")}
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(EngineFailedError, match="not a MatAnyone checkpoint"):
        build_matanyone_network(tmp_path / "broken.pth", torch.device("cpu"))


def test_frugal_decoder_gives_the_packages_results_bit_for_bit():
    """The decoder with shorter-lived tensors computes exactly what the package's decoder does."""
    from matanyone2.model.big_modules import MaskDecoder

    with seeded():
        package = tame_matanyone(build_matanyone_network(None, torch.device("cpu")))
    with seeded():
        frugal = use_frugal_decoder(tame_matanyone(build_matanyone_network(None, torch.device("cpu"))))
    assert use_frugal_decoder(frugal) is frugal  # idempotent
    assert "forward" not in vars(package.mask_decoder) and MaskDecoder.forward is not frugal.mask_decoder.forward
    h, w = 96, 128
    gen = torch.Generator().manual_seed(0)
    for objects in (1, 2):
        ms = [torch.randn(1, c, h // s, w // s, generator=gen)
              for c, s in ((1024, 16), (512, 8), (256, 4), (64, 2), (3, 1))]
        readout = torch.randn(1, objects, 256, h // 16, w // 16, generator=gen)
        sensory = torch.randn(1, objects, 256, h // 16, w // 16, generator=gen)
        last = torch.randn(objects, 1, h, w, generator=gen)  # as MatAnyone passes it: one map per object
        cases = ({}, {"update_sensory": False}, {"seg_pass": True}, {"last_mask": last},
                 {"last_mask": last, "sigmoid_residual": True}, {"chunk_size": 1})
        with torch.inference_mode():
            for kwargs in cases:
                expected = package.mask_decoder(ms, readout, sensory, **kwargs)
                got = frugal.mask_decoder(ms, readout, sensory, **kwargs)
                for a, b in zip(expected, got, strict=True):
                    assert a.shape == b.shape and torch.equal(a, b), (objects, kwargs)


def test_adapter_with_frugal_decoder_equals_the_unchanged_network():
    """Whole passes through the adapter: every alpha equal to the package decoder's, bit for bit."""
    with seeded():
        package = tame_matanyone(build_matanyone_network(None, torch.device("cpu")))
    frames, mask = make_clip(8)
    options = MatAnyoneOptions(max_internal_size=INTERNAL, n_warmup=2, r_erode=5, r_dilate=5)
    expected = run_demo_loop(package, frames, mask, options)  # the demo never patches the network
    assert "forward" not in vars(package.mask_decoder)
    ours = run_adapter(package, frames, mask, options)  # the adapter does
    assert "forward" in vars(package.mask_decoder)
    again = run_demo_loop(package, frames, mask, options)
    for a, b in zip(expected, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert max(float(np.abs(a - b).max()) for a, b in zip(ours, expected, strict=True)) <= 1e-4
