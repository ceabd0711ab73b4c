"""The CUDA-graph plumbing of MatAnyone (models/cuda_graphs.py), checked on the CPU.

No GPU here, so the capture itself is replaced by ``capture_by_rerun``, which keeps the contract a
graph has: the call runs on copies of its inputs held in fixed buffers, and each replay writes its
results into the same output tensors. Whole MatAnyone passes through that plumbing must give the
eager adapter's alphas bit for bit; a method that kept a reference to an input, changed an input
in place, or returned a buffer that the next replay overwrites would show up here as a difference.
The GPU figures (and the same comparison on the device) are in bench/RESULTS.md.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch

from app_config import Settings
from models.cuda_graphs import GRAPHED_METHODS, GraphedNetwork, capture_by_rerun, use_sync_free_aux_mask
from models.matanyone_matter import MatAnyoneMatter, MatAnyoneOptions
from models.model_loader import get_network, spec_for
from tests.test_matanyone_matter import INTERNAL, make_clip, run_adapter


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


@pytest.fixture(scope="module")
def network():
    settings = dataclasses.replace(Settings(), weights="random", device="cpu")
    return get_network(spec_for("matanyone", "matter"), settings, torch.device("cpu"))


class RerunGraphMatter(MatAnyoneMatter):
    """The adapter as it runs on CUDA, with the graph capture replaced by ``capture_by_rerun``."""

    def _pass_network(self):
        self._graphed = GraphedNetwork(self._network, capture=capture_by_rerun)
        return self._graphed


def test_graphed_passes_equal_eager_passes_bit_for_bit(network):
    frames, mask = make_clip(16)
    options = MatAnyoneOptions(max_internal_size=INTERNAL, n_warmup=2, r_erode=5, r_dilate=5)
    eager = run_adapter(network, frames, mask, options)
    matter = RerunGraphMatter(network, options)
    graphed = [matter.start(frames[0], mask)] + [matter.step(frame) for frame in frames[1:]]
    stats = matter.graph_stats()
    # the graphs that read MatAnyone's cached positional encodings keep them referenced
    assert matter._graphed.cached_encodings()
    for name in ("readout_query", "encode_mask"):
        entries = [entry for entry in matter._graphed._methods[name]._graphs.values() if entry]
        assert entries and all(entry[3] for entry in entries), name
    matter.close()
    for a, b in zip(eager, graphed, strict=True):
        np.testing.assert_array_equal(a, b)
    # every method was captured and then replayed, so the frames above really went through replays
    assert set(stats) == set(GRAPHED_METHODS)
    for name, counts in stats.items():
        assert counts["graphs"] >= 1 and counts["replays"] >= 5, (name, counts)
    assert matter.graph_stats() is None  # closed: the graphs are gone


def test_replays_hand_out_copies_not_the_graphs_own_outputs():
    calls = []

    def double(x, *, scale=2):
        calls.append(scale)
        return {"y": x * scale, "same": x}

    graphed = GraphedNetwork(types.SimpleNamespace(**{name: double for name in GRAPHED_METHODS},
                                                   object_transformer=types.SimpleNamespace()),
                             capture=capture_by_rerun)
    first = graphed.encode_image(torch.ones(3))  # eager (the warm-up), then captured
    second = graphed.encode_image(torch.full((3,), 5.0))  # a replay
    third = graphed.encode_image(torch.full((3,), 7.0))
    assert torch.equal(first["y"], torch.full((3,), 2.0))
    assert torch.equal(second["y"], torch.full((3,), 10.0)) and torch.equal(second["same"], torch.full((3,), 5.0))
    assert torch.equal(third["y"], torch.full((3,), 14.0))
    assert torch.equal(second["y"], torch.full((3,), 10.0))  # not overwritten by the third call
    graphed.encode_image(torch.ones(3), scale=3)  # a new flag is a new signature: its own capture
    graphed.encode_image(torch.ones(4))  # so is a new shape
    assert graphed.stats()["encode_image"] == {"graphs": 3, "replays": 2}
    assert graphed.object_transformer is not None  # anything else is the real network's


def test_a_call_that_cannot_be_captured_stays_eager():
    def failing_capture(fn):
        raise RuntimeError("operation not permitted when stream is capturing")

    graphed = GraphedNetwork(types.SimpleNamespace(**{name: (lambda x: x + 1) for name in GRAPHED_METHODS},
                                                   object_transformer=types.SimpleNamespace()),
                             capture=failing_capture)
    for value in (1.0, 2.0, 3.0):
        assert torch.equal(graphed.segment(torch.tensor([value])), torch.tensor([value + 1]))
    assert graphed.stats()["segment"] == {"graphs": 0, "replays": 0}


def test_sync_free_attention_mask_equals_the_packages(network):
    """Same booleans as ObjectTransformer._get_aux_mask, including rows that would see nothing."""
    transformer = network.object_transformer
    package = type(transformer)._get_aux_mask
    use_sync_free_aux_mask(network)
    assert "_get_aux_mask" in vars(transformer)
    gen = torch.Generator().manual_seed(1)
    cases = [torch.randn(1, 1, 6, 8, generator=gen) * 3,
             torch.full((1, 1, 6, 8), -20.0),  # no foreground anywhere: the foreground queries see nothing
             torch.full((1, 1, 6, 8), 20.0),  # all foreground: the background queries see nothing
             torch.randn(1, 2, 6, 8, generator=gen)]
    for logits in cases:
        for selector in (None, torch.ones(1, logits.shape[1], 1, 1)):
            expected = package(transformer, logits, selector)
            got = transformer._get_aux_mask(logits, selector)
            assert got.dtype == torch.bool and torch.equal(got, expected)
    # the rows that would block everything were really opened (they are all True before that step)
    assert not transformer._get_aux_mask(cases[1], None).any()
    assert not transformer._get_aux_mask(cases[2], None).any()
    assert transformer._get_aux_mask(cases[0], None).any()


# --- on a CUDA device (bench/gpu_run.sh runs these there; the CPU tests above cover the plumbing) ---
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: bench/gpu_run.sh")


@needs_cuda
def test_on_cuda_graph_replays_equal_eager_passes_with_a_correction():
    from core.device_manager import autocast_dtype

    device = torch.device("cuda")
    settings = dataclasses.replace(Settings(), weights="random", device="cuda")
    net = get_network(spec_for("matanyone", "matter"), settings, device)
    frames, mask = make_clip(16)
    options = MatAnyoneOptions(max_internal_size=INTERNAL, n_warmup=2, r_erode=5, r_dilate=5)
    runs = {}
    for graphs in (False, True):
        matter = MatAnyoneMatter(net, dataclasses.replace(options, cuda_graphs=graphs), dtype=autocast_dtype(device))
        alphas = [matter.start(frames[0], mask)] + [matter.step(f) for f in frames[1:10]]
        alphas.append(matter.correct(frames[10], mask))  # a new pass: its own graphs
        alphas += [matter.step(f) for f in frames[11:]]
        runs[graphs] = (alphas, matter.graph_stats())
        matter.close()
    for a, b in zip(runs[False][0], runs[True][0], strict=True):
        assert float(np.abs(a - b).max()) <= 1e-6
    assert runs[False][1] is None
    for name, counts in runs[True][1].items():
        assert counts["graphs"] >= 1 and counts["replays"] >= 2, (name, counts)


@needs_cuda
def test_on_cuda_a_call_that_waits_for_the_gpu_stays_eager():
    def syncs(x):
        return x * float(x.sum().item())  # .item() waits for the GPU: no graph can hold it

    def pure(x):
        return x * 2 + 1

    network = types.SimpleNamespace(**{name: pure for name in GRAPHED_METHODS}, object_transformer=types.SimpleNamespace())
    network.segment = syncs
    graphed = GraphedNetwork(network)
    with torch.inference_mode():
        for value in (1.0, 2.0, 3.0):
            x = torch.full((4,), value, device="cuda")
            assert torch.equal(graphed.segment(x), x * 4 * value)
            assert torch.equal(graphed.encode_image(x), x * 2 + 1)
    assert graphed.stats()["segment"] == {"graphs": 0, "replays": 0}
    assert graphed.stats()["encode_image"] == {"graphs": 1, "replays": 2}
