"""MatAnyone's network calls replayed as CUDA graphs: one launch where eager PyTorch makes hundreds.

Why: on a GPU one MatAnyone step issues hundreds of small kernels (ResNet encoders, the object
transformer, the mask decoder, autocast's casts), and at the preset sizes the GPU finishes each
long before Python has issued the next. The step is then bound by the CPU (25-39 ms on an H100 or
H200 whatever the frame size). A CUDA graph records a call's kernels once and replays them with
one launch: on an H100 the 1080p step of the fast preset went from 29-39 ms to 14-17 ms, with
identical alphas (bench/RESULTS.md). InferenceCore's own bookkeeping (memory bank, top-k readout, object
ids) changes shape and branches from frame to frame, so it stays eager; what is graphed are the
network methods it calls, each a pure function of its inputs for a given shape:

    encode_image, transform_key, encode_mask, pred_uncertainty, pixel_fusion, readout_query, segment

``GraphedNetwork`` stands in for the network inside one pass (one ``InferenceCore``): every other
attribute reaches the real network. A method's first call with a new input signature (shapes,
dtypes, flags) runs eagerly (that is also the warm-up the capture needs) and captures a graph of
itself on copies of its inputs; later calls copy their inputs into those buffers, replay, and get
clones of the outputs (the next replay overwrites the graph's own). Anything that cannot be
captured (a host sync, an unexpected type) stays eager for that signature, with a log line.

One thing in MatAnyone is not capturable as shipped: the object transformer's attention mask
clears fully-masked rows through ``mask[torch.where(rows)] = False``, which syncs with the host.
``use_sync_free_aux_mask`` gives our network instance the same mask computed with ``masked_fill``
(identical booleans). The graphs are per pass, so a cached positional encoding that a graph reads
is never swapped under it by another pass of the same job; and each graph keeps a reference to the
positional encodings that existed when it was captured, so that a job at another frame size
running at the same time (``BGFX_GPU_CONCURRENCY`` > 1) cannot free the memory a graph reads.
"""

from __future__ import annotations

import logging
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: The network methods that are captured; each is a function of its tensor inputs only.
GRAPHED_METHODS = ("encode_image", "transform_key", "encode_mask", "pred_uncertainty", "pixel_fusion",
                   "readout_query", "segment")

#: Signatures captured per method before the rest run eagerly (a pass needs two or three).
MAX_GRAPHS_PER_METHOD = 6


def _sync_free_aux_mask(self: Any, logits: Any, selector: Any, seg_pass: bool = False) -> Any:
    """``ObjectTransformer._get_aux_mask`` without the host sync: the same booleans.

    True blocks attention. The first half of the queries may look only at the foreground, the
    second half only at the background; a query row that would see nothing is opened entirely.
    """
    import torch
    from matanyone2.utils.tensor_utils import aggregate

    prob = logits.sigmoid() if selector is None else logits.sigmoid() * selector
    layered = aggregate(prob, dim=1)
    foreground = (layered[:, 1:] >= layered.max(dim=1, keepdim=True)[0]).flatten(start_dim=2)

    def per_query(blocked: Any) -> Any:
        return (blocked.unsqueeze(2).unsqueeze(2)
                .repeat(1, 1, self.num_heads, self.num_queries // 2, 1).flatten(start_dim=0, end_dim=2))

    mask = torch.cat([per_query(~foreground), per_query(foreground)], dim=1)
    blind = mask.sum(-1) == mask.shape[-1]
    return mask.masked_fill_(blind.unsqueeze(-1), False)


def use_sync_free_aux_mask(network: Any) -> Any:
    """Give ``network``'s object transformer ``_sync_free_aux_mask`` (idempotent; returns it)."""
    transformer = network.object_transformer
    if "_get_aux_mask" not in vars(transformer):
        transformer._get_aux_mask = types.MethodType(_sync_free_aux_mask, transformer)
    return network


# --- capture strategies: given a function and its (static) arguments, return a replay -------------


def capture_cuda_graph(fn: Callable[[], Any]) -> tuple[Callable[[], None], Any]:
    """Record ``fn`` (which reads only static buffers) as a CUDA graph; return (replay, outputs).

    The caller has just run ``fn`` eagerly on a side stream (the warm-up CUDA graphs need). Autocast
    is re-entered without its weight cache, so every cast the graph needs is inside the graph.
    """
    import torch

    graph = torch.cuda.CUDAGraph()
    autocast = torch.is_autocast_enabled("cuda")
    dtype = torch.get_autocast_dtype("cuda")
    with torch.cuda.graph(graph, capture_error_mode="thread_local"), torch.autocast("cuda", dtype=dtype, enabled=autocast, cache_enabled=False):
        outputs = fn()
    return graph.replay, outputs


def capture_by_rerun(fn: Callable[[], Any]) -> tuple[Callable[[], None], Any]:
    """The same contract with no graph, for devices without CUDA (tests): replay runs ``fn`` again
    and writes its results into the first run's output tensors, as a graph replay would."""
    from torch.utils._pytree import tree_leaves

    outputs = fn()

    def replay() -> None:
        for static, fresh in zip(tree_leaves(outputs), tree_leaves(fn()), strict=True):
            if hasattr(static, "copy_"):
                static.copy_(fresh)

    return replay, outputs


def _run_noting_host_syncs(run: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run once with PyTorch's sync debug mode warning; say whether the call waited for the GPU
    (``.item()``, ``nonzero``, a blocking copy): a graph cannot hold such a call.

    Warn, not error: the mode is process-wide, and another thread's sync in that moment (a click
    in the studio) must not fail. Its warning would at worst keep this call eager for the pass.
    """
    import torch

    before = torch.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            result = run()
        finally:
            torch.cuda.set_sync_debug_mode(before)
    syncs = [str(w.message) for w in seen if "called a synchronizing" in str(w.message)]
    return result, (syncs[0].splitlines()[0] if syncs else None)


class GraphedMethod:
    """One network method: eager the first time per input signature, then a graph replay."""

    def __init__(self, name: str, fn: Callable[..., Any], capture: Callable, lock: threading.Lock,
                 hidden_inputs: Callable[[], list[Any]] = list) -> None:
        self.name = name
        self._fn = fn
        self._capture = capture
        self._lock = lock
        self._hidden_inputs = hidden_inputs  # tensors a graph reads that are not arguments (kept alive)
        self._graphs: dict[Any, tuple[Callable[[], None], list[Any], Any, list[Any]] | None] = {}
        self.replays = 0

    @staticmethod
    def _signature(leaves: list[Any], spec: Any) -> Any:
        import torch

        parts = []
        for leaf in leaves:
            if isinstance(leaf, torch.Tensor):
                parts.append(("T", tuple(leaf.shape), leaf.dtype, leaf.device, leaf.stride()))
            elif leaf is None or isinstance(leaf, bool | int | float | str):
                parts.append(leaf)
            else:
                return None  # something a graph cannot take: run eagerly
        return (str(spec), tuple(parts))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch
        from torch.utils._pytree import tree_flatten, tree_map

        leaves, spec = tree_flatten((args, kwargs))
        key = self._signature(leaves, spec)
        if key is None:
            return self._fn(*args, **kwargs)
        with self._lock:
            entry = self._graphs.get(key, False)
            if entry is False:
                return self._first_call(key, leaves, spec)
            if entry is None:
                return self._fn(*args, **kwargs)
            replay, statics, outputs, _ = entry
            for static, leaf in zip(statics, leaves, strict=True):
                if isinstance(static, torch.Tensor):
                    static.copy_(leaf)
            replay()
            self.replays += 1
            return tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, outputs)

    def _first_call(self, key: Any, leaves: list[Any], spec: Any) -> Any:
        """Run eagerly (the warm-up), then capture on copies of the inputs; never fail the step."""
        import torch
        from torch.utils._pytree import tree_unflatten

        statics = [leaf.clone() if isinstance(leaf, torch.Tensor) else leaf for leaf in leaves]

        def run() -> Any:
            args, kwargs = tree_unflatten(statics, spec)
            return self._fn(*args, **kwargs)

        on_cuda = any(isinstance(s, torch.Tensor) and s.is_cuda for s in statics)
        if not on_cuda:
            result, syncs = run(), None
        else:  # warm up on a side stream, as capture requires; a host sync there rules capture out
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                result, syncs = _run_noting_host_syncs(run)
            torch.cuda.current_stream().wait_stream(side)
        if syncs is not None or len(self._graphs) >= MAX_GRAPHS_PER_METHOD:
            if syncs is not None:
                logger.warning("%s stays eager for this input: it waits for the GPU (%s)", self.name, syncs)
            self._graphs[key] = None
            return result
        for static, leaf in zip(statics, leaves, strict=True):  # the warm-up may have changed them
            if isinstance(static, torch.Tensor):
                static.copy_(leaf)
        try:
            replay, outputs = self._capture(run)
        except Exception as exc:  # noqa: BLE001 - an uncapturable call stays eager, the job goes on
            logger.warning("%s stays eager for this input (%s: %s)", self.name, type(exc).__name__, exc)
            self._graphs[key] = None
            return result
        self._graphs[key] = (replay, statics, outputs, self._hidden_inputs())
        return result

    @property
    def captured(self) -> int:
        return sum(entry is not None for entry in self._graphs.values())

    def clear(self) -> None:
        self._graphs.clear()


class GraphedNetwork:
    """The MatAnyone network for one pass, with ``GRAPHED_METHODS`` replayed as CUDA graphs.

    Hand it to ``InferenceCore`` in place of the network. ``capture`` is ``capture_cuda_graph`` on a
    GPU; ``capture_by_rerun`` gives the same buffer semantics anywhere (tests).
    """

    def __init__(self, network: Any, capture: Callable = capture_cuda_graph) -> None:
        self._network = use_sync_free_aux_mask(network)
        lock = threading.Lock()
        self._methods = {name: GraphedMethod(name, getattr(network, name), capture, lock, self.cached_encodings)
                         for name in GRAPHED_METHODS}
        for name, method in self._methods.items():
            setattr(self, name, method)

    def cached_encodings(self) -> list[Any]:
        """The positional encodings MatAnyone caches inside its modules (read by the graphs)."""
        modules = self._network.modules() if hasattr(self._network, "modules") else ()
        return [m.cached_penc for m in modules if getattr(m, "cached_penc", None) is not None]

    def __getattr__(self, name: str) -> Any:  # everything not graphed is the real network's
        return getattr(self._network, name)

    def stats(self) -> dict[str, dict[str, int]]:
        """Graphs captured and replays made per method (the benchmark prints them)."""
        return {name: {"graphs": m.captured, "replays": m.replays} for name, m in self._methods.items()}

    def close(self) -> None:
        """Drop every graph and its buffers (their GPU memory goes back to the allocator)."""
        for method in self._methods.values():
            method.clear()
