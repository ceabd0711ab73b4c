"""SAM2 segmenter: the real SAM2.1-tiny architecture with random weights, on CPU, no download.

SAM2 always encodes at 1024x1024, whatever the image size, so each ``set_image`` costs a few
seconds here: the module builds the network once and encodes as few images as it can.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app_config import Settings
from core.exceptions import EmptyMaskError, MaskSizeError, NoPromptError, PointOutOfFrameError, PromptError
from models.base import ObjectPrompt
from models.model_loader import get_network, spec_for
from models.sam2_segmenter import SAM2Segmenter, build_sam2_model, merge_masks

H, W = 96, 128


@pytest.fixture(scope="module")
def sam_network():
    settings = dataclasses.replace(Settings(), weights="random", device="cpu")
    return get_network(spec_for("sam2.1-tiny", "segmenter"), settings, torch.device("cpu"))


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(5)
    img = (rng.random((H, W, 3)) * 90).astype(np.uint8)
    img[20:70, 40:90] = (230, 200, 60)
    return img


@pytest.fixture(scope="module")
def segmenter(sam_network, image):
    seg = SAM2Segmenter(sam_network)
    seg.set_image(image)
    return seg


@pytest.fixture(scope="module")
def predictor(sam_network, image):
    """SAM2's own image predictor on the same network and image, called directly."""
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    pred = SAM2ImagePredictor(sam_network)
    pred.set_image(image)
    return pred


def direct(predictor, **kwargs):
    masks, scores, logits = predictor.predict(multimask_output=True, **kwargs)
    best = int(np.argmax(scores))
    return masks[best] > 0.5, float(scores[best]), logits[best]


def test_click_to_mask_equals_the_predictor_called_directly(segmenter, predictor):
    ours = segmenter.segment(ObjectPrompt(points=[(64, 45)], labels=[1]))
    mask, score, logits = direct(predictor, point_coords=np.array([[64, 45]], np.float32),
                                 point_labels=np.array([1]))
    assert ours.mask.shape == (H, W) and ours.mask.dtype == bool
    np.testing.assert_array_equal(ours.mask, mask)
    assert ours.score == pytest.approx(score, abs=1e-6)
    np.testing.assert_allclose(ours.logits, logits, atol=1e-5)
    assert 0 < ours.mask.sum() < H * W  # a real partition, not all or nothing


def test_negative_click_box_and_refinement_equal_the_predictor(segmenter, predictor):
    first = segmenter.segment(ObjectPrompt(points=[(64, 45)], labels=[1]))
    prompt = ObjectPrompt(points=[(64, 45), (10, 10)], labels=[1, 0], box=(30, 15, 100, 80))
    ours = segmenter.segment(prompt, previous=first)
    mask, score, _ = direct(predictor, point_coords=np.array([[64, 45], [10, 10]], np.float32),
                            point_labels=np.array([1, 0]), box=np.array([30, 15, 100, 80], np.float32),
                            mask_input=first.logits[None])
    np.testing.assert_array_equal(ours.mask, mask)
    assert ours.score == pytest.approx(score, abs=1e-6)
    # The fed-back logits matter: without them SAM2 gives another answer.
    fresh = segmenter.segment(prompt)
    assert not np.array_equal(fresh.logits, ours.logits)


def test_a_carried_mask_is_refined_as_sams_mask_input(segmenter, predictor):
    """A correction's carried matte (a mask with no logits) goes to SAM2 as its mask input: +10
    inside, -10 outside, at the prompt encoder's 256 x 256 over the whole image."""
    carried = np.zeros((H, W), bool)
    carried[20:70, 40:90] = True
    prompt = ObjectPrompt(points=[(64, 45)], labels=[1])
    ours = segmenter.refine(prompt, carried)
    logits = segmenter._mask_logits(carried)
    assert logits.shape == (256, 256) and logits.max() == 10.0 and logits.min() == -10.0
    assert logits[int(45 / H * 256), int(64 / W * 256)] == 10.0 and logits[5, 5] == -10.0
    mask, _, _ = direct(predictor, point_coords=np.array([[64, 45]], np.float32), point_labels=np.array([1]),
                        mask_input=logits[None])
    np.testing.assert_array_equal(ours, mask)
    assert not np.array_equal(ours, segmenter.segment(prompt).mask)  # the carried mask counts


def test_embedding_is_cached_per_image(segmenter, image, monkeypatch):
    calls = []
    monkeypatch.setattr(segmenter._predictor, "set_image", lambda img: calls.append(img))
    key = segmenter.image_key
    segmenter.set_image(image.copy())  # same pixels: nothing to encode
    assert calls == [] and segmenter.image_key == key
    other = image.copy()
    other[0, 0] = 255 - other[0, 0]
    segmenter.set_image(other)
    assert len(calls) == 1 and segmenter.image_key != key
    monkeypatch.undo()
    segmenter._image_key = key  # the predictor still holds ``image``'s features


def test_several_subjects_kept_apart_and_merged(segmenter):
    prompts = [ObjectPrompt(object_id=1, points=[(64, 45)], labels=[1]),
               ObjectPrompt(object_id=2, box=(0, 0, 30, 30)),
               ObjectPrompt(object_id=3, mask=np.pad(np.ones((10, 10), bool), ((80, 6), (110, 8))))]
    results = segmenter.segment_objects(prompts)
    assert sorted(results) == [1, 2, 3]
    assert results[3].score == 1.0 and results[3].mask.sum() == 100
    merged = merge_masks(results)
    np.testing.assert_array_equal(merged, results[1].mask | results[2].mask | results[3].mask)
    with pytest.raises(PromptError):
        segmenter.segment_objects([prompts[0], prompts[0]])


def test_bad_prompts_give_coded_errors(segmenter, sam_network):
    with pytest.raises(PointOutOfFrameError):
        segmenter.segment(ObjectPrompt(points=[(W, 5)], labels=[1]))
    with pytest.raises(PointOutOfFrameError):
        segmenter.segment(ObjectPrompt(box=(50, 10, 20, 40)))
    with pytest.raises(NoPromptError):
        segmenter.segment(ObjectPrompt())
    with pytest.raises(PromptError):
        segmenter.segment(ObjectPrompt(points=[(5, 5)], labels=[]))
    with pytest.raises(MaskSizeError):
        segmenter.segment(ObjectPrompt(mask=np.ones((10, 10), bool)))
    with pytest.raises(EmptyMaskError):
        segmenter.segment(ObjectPrompt(mask=np.zeros((H, W), bool)))
    with pytest.raises(PromptError):
        SAM2Segmenter(sam_network).segment(ObjectPrompt(points=[(5, 5)], labels=[1]))


def test_single_use_segmenter_lets_go_of_the_network_on_close(sam_network, image):
    """With ``on_close`` (one-job processes) close drops the network too, calls it once, and the
    segmenter cannot be used again; without it close keeps the network for the next image."""
    import gc
    import weakref

    from core.exceptions import EngineFailedError

    kept = SAM2Segmenter(sam_network)
    kept.close()
    kept.set_image(image)  # still usable
    calls = []
    seg = SAM2Segmenter(sam_network, on_close=lambda: calls.append(1))
    seg.set_image(image)
    predictor = weakref.ref(seg._predictor)
    seg.close()
    seg.close()
    gc.collect()
    assert calls == [1] and predictor() is None  # nothing in the segmenter holds the network now
    with pytest.raises(EngineFailedError):
        seg.set_image(image)
    with pytest.raises(PromptError):
        seg.segment(ObjectPrompt(points=[(5, 5)], labels=[1]))


def test_build_survives_another_hydra_user():
    """MatAnyone's helper initialises Hydra with its own configs; SAM2's build must still work."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    initialize_config_module("matanyone2.config", version_base="1.3.2")
    model = build_sam2_model("configs/sam2.1/sam2.1_hiera_t.yaml", None, torch.device("cpu"))
    assert model.device.type == "cpu" and model.image_size == 1024


def test_process_job_runs_end_to_end_on_the_real_engine(tmp_path):
    """``app.py process --engine sam2`` with random weights: SAM2 clicks, MatAnyone both ways for two
    subjects (a matter each, core/subject_tracks.py) and a correction of one of them, outputs."""
    import av
    import media

    root = Path(__file__).resolve().parents[1]
    clip = media.make_video(tmp_path / "in.mp4", width=128, height=112, frames=10, fps=10, audio="sine")
    env = {**os.environ, "BGFX_WEIGHTS": "random", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "BGFX_DEVICE": "cpu"}
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "app.py", "process", str(clip), "--out", str(out), "--point", "60,50",
                           "--point", "100,60@2", "--correct", "7:100,60@2", "--frame", "3", "--engine", "sam2", "--quality", "fast", "--quiet"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["engine"] == "sam2" and "RANDOM WEIGHTS" in report["engine_reason"]
    assert report["engine_reason"].startswith("SAM2.1-tiny + MatAnyone on cpu")
    assert any("RANDOM WEIGHTS" in w for w in report["warnings"])
    assert report["frames"] == 10 and report["prompt_frame"] == 3 and report["correction_frames"] == [7]
    for name in ("composite.mp4", "alpha.mp4", "foreground.webm"):
        with av.open(str(out / name)) as container:
            frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
        assert len(frames) == 10, name
        assert frames[0].shape == (112, 128)


def test_matte_here_carries_matanyone_on_and_a_correction_preview_refines_with_sam2(tmp_path):
    """The studio's previews on the real engine (random weights): 'Matte here' on frame 7 carries
    SAM2's mask of frame 3 there with MatAnyone, then on to frame 9 from where it stopped; a
    correction click on frame 9 is previewed as SAM2 refining the matte carried there."""
    import media

    from core.preview import MaskSession
    from models.base import ObjectPrompt

    clip = media.make_video(tmp_path / "in.mp4", width=128, height=112, frames=10, fps=10)
    settings = dataclasses.replace(Settings(), weights="random", device="cpu")
    session = MaskSession(engine="sam2", quality="fast", settings=settings)
    try:
        first = {3: [ObjectPrompt(points=[(60.0, 50.0)], labels=[1])]}
        shown = session.matte_here(clip, 7, first)
        assert shown.alpha.shape == (112, 128) and shown.overlay.shape == (112, 128, 3)
        assert shown.notice.startswith("the matte as the job carries it here from frame 3")
        carry = session._carry
        session.matte_here(clip, 9, first)
        assert session._carry is carry and carry.reached == 9
        click = [ObjectPrompt(points=[(64.0, 52.0)], labels=[1])]
        preview = session.preview(clip, 9, click, {**first, 9: click})
        assert preview.masks[1].shape == (112, 128) and session._carry is carry
    finally:
        session.close()
