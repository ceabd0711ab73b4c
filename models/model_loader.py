"""Loading the real engines: which checkpoints exist, where their weights come from, one copy per device.

Why it is shaped this way:
- ``MODELS`` names every checkpoint the studio knows (SAM2.1 tiny/small/base+/large, MatAnyone 1
  and 2), so a quality preset or a setting picks one by key and nothing else spells a repo id.
- Weights come from, in this order: the local folder ``BGFX_CHECKPOINT_DIR``; the Hugging Face
  cache (``HF_HOME``) without any network; and only then a download, which is skipped at once when
  ``HF_HUB_OFFLINE`` is set and otherwise gives up after ``hub_timeout_s`` when the hub does not
  answer. Whatever fails becomes a coded error with a hint (``WeightsUnavailableError`` E501,
  ``EngineUnavailableError`` E502), which models/engines.py turns into the embedded fallback.
- Networks are large and read-only at inference, so one copy per (model, weights, device) is shared
  by every session and job, guarded by a lock; ``release_models`` frees them on request.
- A process that runs a single job (the CLI) calls ``release_after_use()``: its SAM2 network is then
  freed as soon as the job's masks are made (``SAM2Segmenter.close``), before MatAnyone runs, so
  the two networks and their working memory are never resident together. Freed memory is handed
  back to the system (``trim_memory``): glibc otherwise keeps it in the heap.
- ``BGFX_WEIGHTS=random`` builds the same architectures with seeded random weights (no download),
  for tests and benchmarks; the description then says so in capitals.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app_config import Settings
from core.exceptions import EngineUnavailableError, StudioError, WeightsUnavailableError
from models.base import Matter, Segmenter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """One checkpoint: where it lives on the hub, its file, and (SAM2) the config inside the package."""

    key: str
    role: str  # "segmenter" or "matter"
    repo_id: str
    filename: str
    config: str = ""  # sam2 config name (inside the sam2 package)
    local_names: tuple[str, ...] = ()  # other names accepted in BGFX_CHECKPOINT_DIR
    label: str = ""  # how reports name it


MODELS: dict[str, ModelSpec] = {
    spec.key: spec
    for spec in (
        ModelSpec("sam2.1-tiny", "segmenter", "facebook/sam2.1-hiera-tiny", "sam2.1_hiera_tiny.pt",
                  "configs/sam2.1/sam2.1_hiera_t.yaml", label="SAM2.1-tiny"),
        ModelSpec("sam2.1-small", "segmenter", "facebook/sam2.1-hiera-small", "sam2.1_hiera_small.pt",
                  "configs/sam2.1/sam2.1_hiera_s.yaml", label="SAM2.1-small"),
        ModelSpec("sam2.1-base-plus", "segmenter", "facebook/sam2.1-hiera-base-plus",
                  "sam2.1_hiera_base_plus.pt", "configs/sam2.1/sam2.1_hiera_b+.yaml", label="SAM2.1-base+"),
        ModelSpec("sam2.1-large", "segmenter", "facebook/sam2.1-hiera-large", "sam2.1_hiera_large.pt",
                  "configs/sam2.1/sam2.1_hiera_l.yaml", label="SAM2.1-large"),
        ModelSpec("matanyone", "matter", "PeiqingYang/MatAnyone", "model.safetensors",
                  local_names=("matanyone.pth", "matanyone.safetensors"), label="MatAnyone"),
        ModelSpec("matanyone2", "matter", "PeiqingYang/MatAnyone2", "model.safetensors",
                  local_names=("matanyone2.pth", "matanyone2.safetensors"), label="MatAnyone 2"),
    )
}
#: Other spellings accepted for a key.
ALIASES = {"sam2.1-base+": "sam2.1-base-plus", "sam2.1-b+": "sam2.1-base-plus"}

# What the hint of E501 says: the three ways to get weights.
_HOW_TO_GET = (
    "connect to the network once (unset HF_HUB_OFFLINE) so they download into the Hugging Face cache, "
    "or run `hf download {repo}`, or put {file} in the folder named by BGFX_CHECKPOINT_DIR; "
    "or use --engine embedded (needs no weights)"
)


def spec_for(key: str, role: str) -> ModelSpec:
    """The registry entry for ``key``; an unknown key or a key of the other role is a setting error."""
    spec = MODELS.get(ALIASES.get(key, key))
    if spec is None or spec.role != role:
        known = ", ".join(k for k, s in MODELS.items() if s.role == role)
        raise EngineUnavailableError(f"unknown {role} model {key!r}", f"choose one of: {known}")
    return spec


# --- where the weights come from ------------------------------------------------------------
def _offline() -> bool:
    """HF_HUB_OFFLINE as set now (the library reads it once at import; tests and users set it later)."""
    import huggingface_hub.constants as hub_constants

    value = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return value in ("1", "true", "yes", "on") or bool(hub_constants.HF_HUB_OFFLINE and value == "")


def _hub_cache_dir() -> str | None:
    """The hub cache as the environment names it now (HF_HUB_CACHE, else HF_HOME/hub), else default."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return None


def _in_checkpoint_dir(spec: ModelSpec, folder: Path) -> Path | None:
    """``folder/<file>``, ``folder/<other accepted name>`` or ``folder/<repo name>/<file>``."""
    candidates = [folder / spec.filename, *(folder / name for name in spec.local_names),
                  folder / spec.repo_id.split("/")[-1] / spec.filename]
    return next((path for path in candidates if path.is_file()), None)


def resolve_checkpoint(spec: ModelSpec, settings: Settings) -> Path:
    """Path of the checkpoint file of ``spec``: local folder, then hub cache, then a short download."""
    from huggingface_hub import hf_hub_download

    if settings.checkpoint_dir is not None:
        found = _in_checkpoint_dir(spec, settings.checkpoint_dir)
        if found is not None:
            logger.info("%s: %s (BGFX_CHECKPOINT_DIR)", spec.key, found)
            return found
    hint = _HOW_TO_GET.format(repo=spec.repo_id, file=spec.filename)
    cache_dir = _hub_cache_dir()
    try:
        return Path(hf_hub_download(spec.repo_id, spec.filename, cache_dir=cache_dir, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError and friends: not in the cache
        logger.debug("%s not in the hub cache: %s", spec.key, exc)
    if _offline():
        raise WeightsUnavailableError(
            f"{spec.label} weights ({spec.repo_id}/{spec.filename}) are not in the Hugging Face cache "
            "and HF_HUB_OFFLINE is set", hint)
    import huggingface_hub.constants as hub_constants
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or hub_constants.ENDPOINT  # as set now
    # A download that cannot start must fail fast: one HEAD request, no retries, a short timeout.
    # (hf_hub_download itself retries five times with back-off, about half a minute without network.)
    try:
        get_hf_file_metadata(hf_hub_url(spec.repo_id, spec.filename, endpoint=endpoint),
                             timeout=settings.hub_timeout_s, endpoint=endpoint)
    except Exception as exc:  # no network, DNS, refused, timeout, 401/403/404
        raise WeightsUnavailableError(
            f"{spec.label} weights ({spec.repo_id}/{spec.filename}) are not in the Hugging Face cache and "
            f"the hub does not give them: {_short(exc)}", hint) from exc
    logger.info("downloading %s/%s into the Hugging Face cache", spec.repo_id, spec.filename)
    try:
        return Path(hf_hub_download(spec.repo_id, spec.filename, cache_dir=cache_dir, endpoint=endpoint,
                                    etag_timeout=settings.hub_timeout_s))
    except Exception as exc:  # lost connection, disk full: all mean "no weights"
        raise WeightsUnavailableError(
            f"{spec.label} weights ({spec.repo_id}/{spec.filename}) could not be downloaded: {_short(exc)}", hint
        ) from exc


def _short(exc: BaseException) -> str:
    """``Type: first line`` of an exception, for a one-line error."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --- one copy per device, shared -----------------------------------------------------------
_LOCK = threading.Lock()
_CACHE: dict[tuple[str, str, str], Any] = {}
_RELEASE_AFTER_USE = False


def release_after_use(enabled: bool = True) -> None:
    """Segmenters loaded from now on free their network when the job closes them (one-job processes).

    The studio keeps the default (off): its networks stay loaded for the next click and job.
    """
    global _RELEASE_AFTER_USE
    _RELEASE_AFTER_USE = bool(enabled)


def trim_memory() -> None:
    """Collect garbage and give freed memory back: the CUDA cache, and glibc's heap (``malloc_trim``).

    Without the trim, hundreds of MB that torch freed stay resident in the C heap.
    """
    from core.memory_manager import trim

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    trim()


def release_network(spec: ModelSpec, weights: str, device: Any) -> bool:
    """Drop the cached network of (spec, weights, device) and free its memory once nobody holds it."""
    with _LOCK:
        network = _CACHE.pop((spec.key, weights, str(device)), None)
    if network is None:
        return False
    del network
    trim_memory()
    logger.info("released %s (%s weights) on %s", spec.key, weights, device)
    return True


def cached_network(spec: ModelSpec, weights: str, device: Any, build: Callable[[], Any]) -> Any:
    """The network for (spec, weights mode, device), built by ``build`` once and then shared."""
    key = (spec.key, weights, str(device))
    with _LOCK:
        network = _CACHE.get(key)
        if network is None:
            network = build()
            _CACHE[key] = network
            logger.info("loaded %s (%s weights) on %s", spec.key, weights, device)
        return network


def loaded_models() -> list[str]:
    """``key/weights/device`` of every network held in memory (for the device panel and tests)."""
    with _LOCK:
        return ["/".join(key) for key in _CACHE]


def release_models() -> int:
    """Free every cached network (e.g. before loading another quality, or when the GPU is needed)."""
    with _LOCK:
        count = len(_CACHE)
        _CACHE.clear()
    trim_memory()
    logger.info("released %d cached networks", count)
    return count


def _build(spec: ModelSpec, settings: Settings, device: Any, checkpoint: Path | None = None) -> Any:
    """Build one network with its weights (or seeded random weights) on ``device``; ``checkpoint``:
    the weights file when the caller has already found it."""
    from models.matanyone_matter import build_matanyone_network
    from models.random_weights import seeded, tame_matanyone
    from models.sam2_segmenter import build_sam2_model

    def make(checkpoint: Path | None) -> Any:
        if spec.role == "segmenter":
            return build_sam2_model(spec.config, str(checkpoint) if checkpoint else None, device)
        return build_matanyone_network(checkpoint, device)

    if settings.weights == "random":
        with seeded():
            network = make(None)
        return tame_matanyone(network) if spec.role == "matter" else network
    return make(checkpoint or resolve_checkpoint(spec, settings))


def get_network(spec: ModelSpec, settings: Settings, device: Any, checkpoint: Path | None = None) -> Any:
    """Cached network of ``spec``; CUDA and build failures become E502 with the reason."""
    try:
        return cached_network(spec, settings.weights, device, lambda: _build(spec, settings, device, checkpoint))
    except StudioError:
        raise
    except (RuntimeError, OSError, ValueError, KeyError, ImportError) as exc:  # CUDA errors are RuntimeError
        raise EngineUnavailableError(
            f"{spec.label} could not be built on {device}: {type(exc).__name__}: {exc}",
            "use --engine embedded, or BGFX_DEVICE=cpu if the GPU is the problem",
        ) from exc


# --- the contract with models/engines.py ---------------------------------------------------
def describe_engine(sam: ModelSpec, matter: ModelSpec, device: Any, dtype: Any, weights: str,
                    cuda_graphs: bool = False) -> str:
    """One line for the report: "SAM2.1-small + MatAnyone on cuda (bfloat16, CUDA graphs)"."""
    from models.random_weights import RANDOM_WEIGHTS_BANNER

    precision = str(dtype).replace("torch.", "") if dtype is not None else "float32"
    if cuda_graphs and device.type == "cuda":
        precision += ", CUDA graphs"
    line = f"{sam.label} + {matter.label} on {device.type} ({precision})"
    return f"{line}, {RANDOM_WEIGHTS_BANNER}" if weights == "random" else line


def load_real_engine(settings: Settings) -> tuple[Segmenter, Callable[[], Matter], str]:
    """A ready SAM2 segmenter, a factory of fresh MatAnyone matters, and a one-line description.

    Raises WeightsUnavailableError (E501) when weights cannot be had, EngineUnavailableError (E502)
    when torch/sam2/MatAnyone cannot be imported or the device fails.

    The checkpoints are looked for first: where they cannot be had (no network, an empty cache)
    ``--engine auto`` falls back at once instead of importing torch, sam2 and MatAnyone for
    nothing (2.7 s and 508 MB of resident memory on this machine, for every embedded job).
    """
    preset = settings.preset
    sam_spec = spec_for(settings.sam2_model or preset.sam2_model, "segmenter")
    matter_spec = spec_for(settings.matanyone_model or preset.matanyone_model, "matter")
    checkpoints: dict[str, Path | None] = {"segmenter": None, "matter": None}
    if settings.weights != "random":
        for spec in (sam_spec, matter_spec):
            checkpoints[spec.role] = resolve_checkpoint(spec, settings)  # E501 here, before the imports
    try:
        from models.torch_imports import import_engine_packages

        import_engine_packages()  # fail here, not in the middle of a job
    except Exception as exc:  # ImportError, or a broken CUDA install raising at import
        raise EngineUnavailableError(
            f"the real engine cannot be imported ({type(exc).__name__}: {exc})",
            "run scripts/setup.sh (it installs sam2 and matanyone2-runtime), or use --engine embedded",
        ) from exc
    from core.device_manager import autocast_dtype, pick_device
    from core.memory_manager import configure_for_tensors
    from models.matanyone_matter import MatAnyoneMatter, MatAnyoneOptions
    from models.sam2_segmenter import SAM2Segmenter

    device = pick_device(settings.device)
    dtype = autocast_dtype(device)
    sam_network = get_network(sam_spec, settings, device, checkpoints["segmenter"])
    matter_network = get_network(matter_spec, settings, device, checkpoints["matter"])
    if device.type == "cpu":  # MatAnyone's steps allocate and free ~2 GB of tensors each on the CPU
        configure_for_tensors()
    options = MatAnyoneOptions(max_internal_size=preset.matanyone_max_size, n_warmup=preset.matanyone_warmup,
                               cuda_graphs=settings.cuda_graphs)

    def new_matter() -> Matter:
        return MatAnyoneMatter(matter_network, options, dtype=dtype)

    release: Callable[[], object] | None = None
    if _RELEASE_AFTER_USE:  # a one-job process: SAM2 goes once the job's masks are made
        release = functools.partial(release_network, sam_spec, settings.weights, device)
    segmenter = SAM2Segmenter(sam_network, dtype=dtype, on_close=release)
    return segmenter, new_matter, describe_engine(sam_spec, matter_spec, device, dtype, settings.weights,
                                                      settings.cuda_graphs)
