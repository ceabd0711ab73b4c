"""Text-to-image backgrounds with diffusers, sized to the video, cached on disk.

Why this module exists: a ``prompt:TEXT`` background (and the studio's Generate button) needs one
picture at the output size. Diffusion models draw best near the resolution they were trained at,
so the picture is made near that area at the video's aspect ratio (sides rounded to what the UNet
accepts), extended by outpainting when the aspect is too extreme for the model, then scaled to
cover the exact output size: scaled uniformly and centre-cropped, never stretched.

Weights come from ``settings.checkpoint_dir`` or the Hugging Face cache, downloaded only when the
hub answers within ``settings.hub_timeout_s``. When no weights can be had, the procedural
backgrounds draw a picture with the prompt's colours and ``info["notice"]`` says what ran and why.
Pictures are cached under ``settings.work_dir / "bg-cache"`` by (prompt, seed, size, model), so a
re-run job neither loads nor runs the model. A loaded pipeline is kept once per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app_config import Settings, get_settings
from core.compositing import fit_cover
from core.device_manager import pick_device
from core.exceptions import BackgroundSpecError, WeightsUnavailableError
from models.backgrounds import procedural
from models.bg_cache import cache_path, read_cache, write_cache
from models.bg_models import BG_MODELS, BgModel, resolve_bg_model
from models.bg_sizing import SizePlan, plan_size

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

#: Seed used when none is given, so the same prompt gives the same picture (and hits the cache).
DEFAULT_SEED = 0
#: After a failed load, jobs use the fallback without retrying for this long.
FAILURE_RETRY_S = 300.0
MAX_PROMPT_CHARS = 1000


def register_bg_model(model: BgModel) -> None:
    """Add (or replace) a model entry; select it with ``Settings.bg_model = model.key``."""
    BG_MODELS[model.key] = model
    clear_generator_cache()


# --- device and loading -----------------------------------------------------------------
def runtime_plan(device: str) -> tuple[Any, bool]:
    """(dtype, model CPU offload) for a device: fp16 + offload on CUDA, fp16 on MPS, fp32 on CPU.

    Offload keeps only the running part (text encoder, UNet or VAE) on the GPU, which leaves room
    for the matting models that share the card. CPU kernels are slow or missing in fp16.
    """
    import torch

    if device == "cuda":
        return torch.float16, True
    if device == "mps":
        return torch.float16, False
    return torch.float32, False


def _local_folder(model: BgModel, settings: Settings) -> Path | None:
    """A diffusers folder for ``model``: the name itself, or under ``settings.checkpoint_dir``."""
    candidates = [Path(model.repo_id).expanduser()]
    if settings.checkpoint_dir is not None:
        root = settings.checkpoint_dir
        candidates += [root / model.key, root / model.repo_id, root / model.repo_id.split("/")[-1]]
    return next((path for path in candidates if (path / "model_index.json").is_file()), None)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return flag or bool(getattr(constants, "HF_HUB_OFFLINE", False))


def load_pipeline(model: BgModel, settings: Settings, device: str) -> Any:
    """Load the text-to-image pipeline; any failure becomes ``WeightsUnavailableError``.

    Order: a local folder; the hub cache (no network); the hub itself when it is online and
    answers within ``settings.hub_timeout_s`` (a quick ``model_info`` call first, so an
    unreachable hub fails fast instead of hanging a job).
    """
    if model.factory is not None:
        return model.factory()
    from diffusers import AutoPipelineForText2Image

    dtype, _ = runtime_plan(device)
    # The half-size fp16 files where the repo has them (only worth it on CUDA), else the full ones.
    variants = ["fp16", None] if device == "cuda" and model.fp16_variant else [None]
    folder = _local_folder(model, settings)
    source = str(folder) if folder is not None else model.repo_id
    errors: list[str] = []
    for variant in variants:
        try:
            return AutoPipelineForText2Image.from_pretrained(
                source, dtype=dtype, variant=variant, local_files_only=True
            )
        except Exception as exc:  # noqa: BLE001 - every loader failure means "not here"
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    if folder is not None:
        raise WeightsUnavailableError(f"cannot load {model.key} from {folder}: {errors[-1]}")
    if _hub_offline():
        raise WeightsUnavailableError(
            f"{model.repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set"
        )
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(model.repo_id, timeout=settings.hub_timeout_s)
        return AutoPipelineForText2Image.from_pretrained(model.repo_id, dtype=dtype, variant=variants[0])
    except Exception as exc:  # noqa: BLE001 - no network, no access, bad repo: all mean "no weights"
        raise WeightsUnavailableError(
            f"cannot download {model.repo_id}: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc


# --- the generator: one loaded pipeline -------------------------------------------------
class BackgroundGenerator:
    """A loaded pipeline and the way to run it. One per process and model (``get_generator``).

    Calls are serialised with a lock: a diffusers pipeline keeps per-call state (the scheduler's
    timesteps), so two studio sessions must not run the same pipeline at once.
    """

    def __init__(self, pipeline: Any, model: BgModel, device: str) -> None:
        self.pipeline = pipeline
        self.model = model
        self.device = device
        self._inpaint: Any = None
        self._lock = threading.Lock()
        _, offload = runtime_plan(device)
        if offload:
            pipeline.enable_model_cpu_offload()
        elif device != "cpu":
            pipeline.to(device)
        pipeline.set_progress_bar_config(disable=True)
        vae = getattr(pipeline, "vae", None)
        if vae is not None and hasattr(vae, "enable_tiling"):
            # decode the latents in slices and tiles (diffusers 0.42: on pipe.vae, not the pipeline):
            # large outpainted canvases then fit beside the matting models; no effect below a tile
            vae.enable_slicing()
            vae.enable_tiling()
        # Side multiple the UNet accepts: the VAE's factor times the UNet's 3 halvings.
        self.multiple = int(getattr(pipeline, "vae_scale_factor", 8)) * 8

    def native_px(self) -> int:
        """The training resolution: the UNet's latent sample size times the VAE factor, if it says."""
        sample = getattr(getattr(getattr(self.pipeline, "unet", None), "config", None), "sample_size", None)
        if isinstance(sample, int):
            return sample * int(getattr(self.pipeline, "vae_scale_factor", 8))
        return self.model.native_px

    def generate(
        self, prompt: str, seed: int, width: int, height: int, progress: ProgressFn | None = None
    ) -> tuple[np.ndarray, SizePlan]:
        """The picture (RGB uint8, exactly ``height`` x ``width``) and the size plan it followed."""
        import torch

        plan = plan_size(width, height, self.native_px(), self.multiple)
        total = self.model.steps * (2 if plan.outpaint else 1)
        done = [0]

        def on_step(pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
            done[0] += 1
            if progress is not None:
                progress(min(done[0] / total, 1.0), f"generating background: step {done[0]}/{total}")
            return kwargs

        common = {
            "prompt": prompt,
            "num_inference_steps": self.model.steps,
            "guidance_scale": self.model.guidance,
            "output_type": "np",
            "callback_on_step_end": on_step,
        }
        with self._lock:
            # Noise drawn on the CPU: the same seed gives the same picture on every device.
            generator = torch.Generator("cpu").manual_seed(seed)
            images = self.pipeline(
                **common, width=plan.base_w, height=plan.base_h, generator=generator
            ).images
            picture = _to_uint8(images[0])
            if plan.outpaint:
                picture = self._outpaint(picture, plan, common, generator)
        return fit_cover(picture, width, height, upscale=cv2.INTER_CUBIC), plan

    def _outpaint(self, base: np.ndarray, plan: SizePlan, common: dict, generator: Any) -> np.ndarray:
        """Extend ``base`` to the plan's canvas with an inpainting pipeline sharing the same weights.

        The new margins start as a mirror of the picture (a colour hint) and are redrawn; a strip
        of the base is redrawn too so there is no seam, and the rest of the base is pasted back.
        """
        from diffusers import AutoPipelineForInpainting
        from PIL import Image

        if self._inpaint is None:
            self._inpaint = AutoPipelineForInpainting.from_pipe(self.pipeline)
            self._inpaint.set_progress_bar_config(disable=True)
        pad_x, pad_y = (plan.canvas_w - plan.base_w) // 2, (plan.canvas_h - plan.base_h) // 2
        right, bottom = plan.canvas_w - plan.base_w - pad_x, plan.canvas_h - plan.base_h - pad_y
        canvas = cv2.copyMakeBorder(base, pad_y, bottom, pad_x, right, cv2.BORDER_REFLECT)
        overlap = max(self.multiple // 4, 4)
        keep = np.zeros(canvas.shape[:2], dtype=np.float32)
        keep[pad_y : pad_y + plan.base_h, pad_x : pad_x + plan.base_w] = 1.0
        inner = cv2.erode(keep, np.ones((2 * overlap + 1, 2 * overlap + 1), np.uint8))
        mask = Image.fromarray(((1.0 - inner) * 255).astype(np.uint8))
        result = self._inpaint(
            **common,
            image=Image.fromarray(canvas),
            mask_image=mask,
            width=plan.canvas_w,
            height=plan.canvas_h,
            strength=1.0,
            generator=generator,
        ).images[0]
        extended = _to_uint8(result).astype(np.float32)
        blend = cv2.GaussianBlur(inner, (0, 0), overlap / 2.0)[..., None] * keep[..., None]
        return _to_uint8((canvas * blend + extended * (1.0 - blend)) / 255.0)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """diffusers' float [0, 1] picture (or a float 0..1 array) to RGB uint8."""
    return np.clip(np.asarray(image, dtype=np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)


_GENERATORS: dict[tuple[str, str], BackgroundGenerator] = {}
_FAILURES: dict[tuple[str, str], tuple[float, WeightsUnavailableError]] = {}
_GENERATORS_LOCK = threading.Lock()


def get_generator(settings: Settings) -> BackgroundGenerator:
    """The process-wide generator of ``settings.bg_model``, loaded on first use.

    The lock is held while loading, so two jobs starting together load the weights once. A failed
    load is remembered for ``FAILURE_RETRY_S`` so every job does not wait on the hub again.
    """
    model = resolve_bg_model(settings.bg_model)
    device = pick_device(settings.device).type
    key = (model.key, device)
    with _GENERATORS_LOCK:
        if key in _GENERATORS:
            return _GENERATORS[key]
        failed = _FAILURES.get(key)
        if failed is not None and time.monotonic() - failed[0] < FAILURE_RETRY_S:
            raise failed[1]
        try:
            pipeline = load_pipeline(model, settings, device)
        except WeightsUnavailableError as exc:
            _FAILURES[key] = (time.monotonic(), exc)
            raise
        generator = BackgroundGenerator(pipeline, model, device)
        _GENERATORS[key] = generator
        logger.info("background model %s loaded on %s", model.key, device)
        return generator


def clear_generator_cache() -> None:
    """Forget loaded pipelines and remembered failures (tests; a studio 'reload models')."""
    with _GENERATORS_LOCK:
        _GENERATORS.clear()
        _FAILURES.clear()


# --- the one entry point ----------------------------------------------------------------
def _validate(prompt: str, seed: int | None, width: int, height: int, settings: Settings) -> tuple[str, int]:
    text = (prompt or "").strip()
    if not text:
        raise BackgroundSpecError(
            "prompt: needs a description", 'write e.g. prompt:"a quiet beach at sunset"'
        )
    if len(text) > MAX_PROMPT_CHARS:
        raise BackgroundSpecError(
            f"the prompt is {len(text)} characters long", f"keep it under {MAX_PROMPT_CHARS}"
        )
    if seed is not None and not (0 <= int(seed) < 2**32):
        raise BackgroundSpecError(f"seed {seed} is out of range", "use a whole number from 0 to 4294967295")
    if not (0 < width <= settings.max_side_px and 0 < height <= settings.max_side_px):
        raise BackgroundSpecError(
            f"background size {width}x{height} is not possible",
            f"each side must be 1..{settings.max_side_px} px",
        )
    return text, DEFAULT_SEED if seed is None else int(seed)


def generate_background_image(
    prompt: str,
    seed: int | None,
    width: int,
    height: int,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, dict]:
    """A (height, width, 3) RGB uint8 picture for ``prompt`` and an info dict.

    info: ``model`` (what drew it), ``seed``, ``cached``, ``notice`` (None, or why the procedural
    fallback ran), ``size`` and ``drawn_at`` (the model's own size), ``outpainted``.
    """
    settings = settings or get_settings()
    text, seed_value = _validate(prompt, seed, width, height, settings)
    model = resolve_bg_model(settings.bg_model)
    path = cache_path(settings, text, seed_value, width, height, model.key)
    hit = read_cache(path, width, height)
    if hit is not None:
        if progress is not None:
            progress(1.0, "background from cache")
        return hit[0], {**hit[1], "cached": True}
    started = time.perf_counter()
    try:
        generator = get_generator(settings)
        image, plan = generator.generate(text, seed_value, width, height, progress)
    except WeightsUnavailableError as exc:
        return _fallback(
            text, seed_value, width, height, f"no weights for {model.key}: {exc.message}", progress
        )
    # A broken install or CUDA out of memory still gives a picture. Other StudioErrors (a cancelled
    # job) are not caught: they are not a reason to draw something else.
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        logger.exception("background generation failed")
        return _fallback(
            text, seed_value, width, height, f"{model.key} failed: {type(exc).__name__}: {exc}", progress
        )
    info = {
        "model": model.key,
        "seed": seed_value,
        "cached": False,
        "notice": None,
        "size": [width, height],
        "drawn_at": [plan.canvas_w, plan.canvas_h],
        "outpainted": plan.outpaint,
        "device": generator.device,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_cache(path, image, info)
    return image, info


def _fallback(
    prompt: str, seed: int, width: int, height: int, reason: str, progress: ProgressFn | None
) -> tuple[np.ndarray, dict]:
    """The procedural picture that suits the prompt; not cached, so real weights win next time."""
    style = procedural.style_for_text(prompt)
    palette = procedural.palette_from_text(prompt, seed)
    image = procedural.render(style, width, height, palette, seed)
    notice = f"generated background unavailable ({reason}); drew a procedural {style} background instead"
    logger.warning(notice)
    if progress is not None:
        progress(1.0, f"procedural {style} background (fallback)")
    info = {
        "model": f"procedural:{style}",
        "seed": seed,
        "cached": False,
        "notice": notice,
        "size": [width, height],
        "drawn_at": [width, height],
        "outpainted": False,
        "device": "cpu",
        "seconds": 0.0,
    }
    return image, info
