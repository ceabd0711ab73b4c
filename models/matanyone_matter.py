"""The real matter: MatAnyone (v1 or v2) propagating the prompt mask as an alpha matte, frame by frame.

Why we drive ``InferenceCore.step()`` ourselves: the package's ``process_video`` reads the whole
video into memory (through ``torchvision.io.read_video``, which current torchvision no longer has),
while our pipeline streams one frame at a time. So this adapter repeats, step for step, what
MatAnyone's own demo loop does (``hugging_face/matanyone2_wrapper.py`` in the package):

1. the first mask goes in on a 0..255 scale, with ``objects=[1]``, after the demo's dilate-then-erode
   of that mask (``gen_dilate`` / ``gen_erosion`` from the package, radii from the options);
2. the first frame is then stepped again ``n_warmup + 1`` times with ``first_frame_pred=True``
   (the demo's warm-up: the first frame repeated) and the last of those is the first frame's alpha;
3. every further frame is one plain ``step``, and the alpha is ``output_prob_to_mask(matting=True)``.

The frame goes to ``step`` at full size on the device; ``InferenceCore`` itself shrinks it to the
preset's internal size (``max_internal_size``) and gives the alpha back at full size, as in the demo.
tests/test_matanyone_matter.py checks that our alphas equal the demo loop's.

MatAnyone v1 and v2 share this architecture (the MatAnyone 2 demo loads v1's ``matanyone.pth`` into
the same class), so one adapter serves both; only the checkpoint differs.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.exceptions import EmptyMaskError, EngineFailedError, LimitExceededError, MaskSizeError
from core.memory_manager import trim
from models.base import Matter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatAnyoneOptions:
    """How the adapter drives MatAnyone; defaults are those of MatAnyone's own demo."""

    max_internal_size: int = -1  # short side MatAnyone works at; -1 = the frame's own size
    n_warmup: int = 10  # repeats of the first frame before the first alpha
    r_erode: int = 10  # demo slider default: erosion of the first mask (px, 0 = off)
    r_dilate: int = 10  # demo slider default: dilation of the first mask (px, 0 = off)
    cuda_graphs: bool = True  # on CUDA, replay the network's calls as graphs (models/cuda_graphs.py)


def matanyone_config(max_internal_size: int = -1) -> Any:
    """MatAnyone's evaluation config, read from the yaml files inside the package.

    Read with OmegaConf alone, not Hydra: sam2 owns Hydra's global state in this process. The
    ResNet backbones are told not to fetch ImageNet weights (``pretrained_resnet=False``): the
    checkpoint (or random weights) replaces them anyway, and nothing may be downloaded here.
    """
    import matanyone2
    from omegaconf import OmegaConf

    folder = Path(matanyone2.__file__).parent / "config"
    cfg = OmegaConf.load(folder / "eval_matanyone_config.yaml")
    for hydra_only in ("defaults", "hydra"):
        cfg.pop(hydra_only, None)
    cfg.model = OmegaConf.load(folder / "model" / "base.yaml")
    cfg.model.pretrained_resnet = False
    cfg.max_internal_size = int(max_internal_size)
    OmegaConf.resolve(cfg)
    return cfg


def load_matanyone_state(path: Path) -> dict[str, Any]:
    """Weights from a MatAnyone checkpoint: ``.safetensors`` (hub) or ``.pth`` (GitHub releases)."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:  # some training checkpoints nest it
        state = state["state_dict"]
    return dict(state)


def build_matanyone_network(checkpoint: Path | None, device: Any) -> Any:
    """Build MatAnyone's network (single object, as the demo builds it) and load its weights.

    ``checkpoint=None`` keeps the initialised weights (random weights mode). A checkpoint that lacks
    weights of this architecture is refused: the package's own loader would quietly keep random
    values for them (it loads with ``strict=False``).
    """
    from matanyone2.model.matanyone2 import MatAnyone2

    network = MatAnyone2(matanyone_config(), single_object=True)
    if checkpoint is not None:
        state = load_matanyone_state(checkpoint)
        network.load_weights(state)  # converts multi-object checkpoints to single object
        missing = sorted(set(network.state_dict()) - set(state))
        if missing:
            raise EngineFailedError(
                f"{checkpoint.name} is not a MatAnyone checkpoint ({len(missing)} weights missing, "
                f"e.g. {missing[0]})",
                "download the file again, or point BGFX_CHECKPOINT_DIR at the official matanyone.pth / "
                "matanyone2.pth",
            )
    return network.to(device).eval()


# --- the mask decoder with shorter-lived tensors ---------------------------------------------
# At 480x864 internal size the last decoder stage holds several 64-channel full-size tensors at
# once (106 MB each in fp32): the skip feature f1 (computed up front and kept until the decoder
# returns), its sum with the upsampled features, and a ReLU copy of that sum. That stage sets
# MatAnyone's peak on the CPU. The functions below run the very same operations in the same order
# per value (same layers, same kernels, fp32 results bit for bit equal, tests/test_matanyone_matter.py
# checks it) but compute each skip feature just before its stage, drop it once added, and apply
# the ReLUs in place where their input is needed by nothing else.


def _upsample_block(block: Any, p: Any, skip: Any) -> Any:
    """``MaskUpsampleBlock.forward(p, skip)``, freeing ``skip`` and the block's sums early.

    ``skip`` must be a tensor the caller no longer holds (it is dropped once added).
    """
    import torch.nn.functional as F
    from matanyone2.model.group_modules import upsample_groups
    from torch import nn

    g = upsample_groups(p, ratio=block.scale_factor)  # a new tensor that only this function holds
    mix = block.distributor
    if mix.x_transform is None and mix.g_transform is None:  # distributor(skip, g) is skip + g
        g.add_(skip.unsqueeze(1).expand(-1, g.shape[1], -1, -1, -1))  # the same sum, in place
    else:
        g = mix(skip, g)
    del skip
    res = block.out_conv  # GroupResBlock: conv2(relu(conv1(relu(g)))) + downsample(g)
    if isinstance(res.downsample, nn.Identity):
        out = res.conv1(F.relu(g))  # g itself is the residual: ReLU into a copy
        out = res.conv2(F.relu(out, inplace=True))
        return out.add_(g)
    residual = res.downsample(g)
    out = res.conv1(F.relu(g, inplace=True))  # g is not needed after this: ReLU over it
    del g
    out = res.conv2(F.relu(out, inplace=True))
    return out.add_(residual)


def _frugal_decoder_forward(
    self: Any,
    ms_image_feat: Any,
    memory_readout: Any,
    sensory: Any,
    *,
    chunk_size: int = -1,
    update_sensory: bool = True,
    seg_pass: bool = False,
    last_mask: Any = None,
    sigmoid_residual: bool = False,
) -> tuple[Any, Any]:
    """``MaskDecoder.forward`` (single chunk, no autocast) with shorter-lived intermediates.

    Anything else (objects in chunks, autocast on a GPU, a distributor other than ``add``) runs
    the package's own forward unchanged.
    """
    import torch
    import torch.nn.functional as F
    from matanyone2.utils.device import safe_autocast

    batch_size, num_objects = memory_readout.shape[:2]
    blocks = (self.up_16_8, self.up_8_4, self.up_4_2, self.up_2_1)
    if ((1 <= chunk_size < num_objects) or torch.is_autocast_enabled(memory_readout.device.type)
            or any(block.distributor.method != "add" for block in blocks)):
        return self._bgfx_package_forward(ms_image_feat, memory_readout, sensory, chunk_size=chunk_size,
                                          update_sensory=update_sensory, seg_pass=seg_pass,
                                          last_mask=last_mask, sigmoid_residual=sigmoid_residual)
    project = self.decoder_feat_proc.transforms  # f8, f4, f2, f1 = project[i](ms_image_feat[i + 1])
    p16 = memory_readout
    p8 = _upsample_block(self.up_16_8, p16, project[0](ms_image_feat[1]))
    p4 = _upsample_block(self.up_8_4, p8, project[1](ms_image_feat[2]))
    p2 = _upsample_block(self.up_4_2, p4, project[2](ms_image_feat[3]))
    p1 = _upsample_block(self.up_2_1, p2, project[3](ms_image_feat[4]))
    with safe_autocast(enabled=False):
        head = self.pred_seg if seg_pass else self.pred_mat
        logits = head(F.relu(p1.flatten(start_dim=0, end_dim=1).float()))
        if last_mask is not None:
            if sigmoid_residual:
                logits = (torch.sigmoid(logits) - 0.5) * 2
            logits = last_mask + logits
    new_sensory = sensory
    if update_sensory:
        p1 = torch.cat([p1, logits.view(batch_size, num_objects, 1, *logits.shape[-2:])], 2)
        new_sensory = self.sensory_update([p16, p8, p4, p2, p1], sensory)
    return new_sensory, logits.view(batch_size, num_objects, *logits.shape[-2:])


def use_frugal_decoder(network: Any) -> Any:
    """Make ``network``'s mask decoder run ``_frugal_decoder_forward`` (idempotent; returns it).

    Only this instance changes; the package's class, and so MatAnyone's own demo, is untouched.
    """
    import types

    decoder = network.mask_decoder
    if "_bgfx_package_forward" not in vars(decoder):
        decoder._bgfx_package_forward = decoder.forward
        decoder.forward = types.MethodType(_frugal_decoder_forward, decoder)
    return network


class MatAnyoneMatter(Matter):
    """Streaming MatAnyone: ``start`` with the prompt frame and mask, then one ``step`` per frame.

    Each instance owns its ``InferenceCore`` (the memory of this one pass); the network is shared,
    and its mask decoder runs ``use_frugal_decoder``'s forward (same results, a lower peak).
    """

    name = "matanyone"

    def __init__(self, network: Any, options: MatAnyoneOptions | None = None, *, dtype: Any = None) -> None:
        from omegaconf import OmegaConf

        self.options = options or MatAnyoneOptions()
        self._network = use_frugal_decoder(network)
        self._device = network.device
        self._dtype = dtype
        cfg = OmegaConf.create(OmegaConf.to_container(network.cfg, resolve=True))
        cfg.max_internal_size = int(self.options.max_internal_size)
        self._cfg = cfg
        self._core: Any = None
        self._graphed: Any = None  # this pass's GraphedNetwork, on CUDA
        self._shape: tuple[int, int] | None = None

    def _compute(self) -> contextlib.AbstractContextManager:
        """No autograd; on GPUs autocast (the demo autocasts on CUDA too, with fp16)."""
        from core.device_manager import inference

        return inference(self._device, self._dtype)

    def _image(self, frame: np.ndarray) -> Any:
        """RGB uint8 (H, W, 3) -> float (3, H, W) in [0, 1] on the device (to_tensor's arithmetic)."""
        import torch

        if frame.ndim != 3 or frame.shape[2] != 3:
            raise MaskSizeError(f"frame of shape {frame.shape} is not RGB", "this is a bug: please report it")
        if self._shape is not None and frame.shape[:2] != self._shape:
            raise MaskSizeError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the clip is "
                                f"{self._shape[1]}x{self._shape[0]}", "this is a bug: please report it")
        tensor = torch.from_numpy(np.ascontiguousarray(frame)).to(self._device, non_blocking=True)
        return tensor.permute(2, 0, 1).float().div(255)

    def first_mask(self, mask: np.ndarray) -> np.ndarray:
        """The prompt mask as the demo hands it to MatAnyone: float32 0..255, dilated then eroded."""
        from matanyone2.utils.inference_utils import gen_dilate, gen_erosion

        mask = np.asarray(mask)
        scaled = mask.astype(np.float32) * (255.0 if mask.dtype == bool or mask.max() <= 1 else 1.0)
        if self.options.r_dilate > 0:
            scaled = gen_dilate(scaled, self.options.r_dilate, self.options.r_dilate)
        if self.options.r_erode > 0:
            scaled = gen_erosion(scaled, self.options.r_erode, self.options.r_erode)
        return scaled.astype(np.float32)

    def _alpha(self, output_prob: Any) -> np.ndarray:
        alpha = self._core.output_prob_to_mask(output_prob, matting=True)
        return alpha.float().clamp_(0, 1).cpu().numpy().astype(np.float32, copy=False)

    def _check_size(self, height: int, width: int) -> None:
        """MatAnyone reads its memory through a top-k over 16x16-pixel cells: it needs top_k cells."""
        scale = 1.0
        if self._cfg.max_internal_size > 0 and min(height, width) > self._cfg.max_internal_size:
            scale = self._cfg.max_internal_size / min(height, width)
        cells = math.ceil(height * scale / 16) * math.ceil(width * scale / 16)
        if cells < self._cfg.top_k:
            raise LimitExceededError(f"a {width}x{height} frame is too small for MatAnyone "
                                     f"({cells} cells of 16x16 px, it needs {self._cfg.top_k})",
                                     "use --engine embedded for clips under about 96x96 px")

    def _pass_network(self) -> Any:
        """The network this pass's InferenceCore calls: on CUDA, one replaying CUDA graphs."""
        if not (self.options.cuda_graphs and self._device.type == "cuda"):
            return self._network
        from models.cuda_graphs import GraphedNetwork

        self._graphed = GraphedNetwork(self._network)
        return self._graphed

    def graph_stats(self) -> dict[str, dict[str, int]] | None:
        """Graphs captured and replayed in this pass, per network method (None when eager)."""
        return self._graphed.stats() if self._graphed is not None else None

    def start(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Memorise the subject on ``frame`` (warm-up included) and return that frame's alpha."""
        from matanyone2.inference.inference_core import InferenceCore

        if np.asarray(mask).shape[:2] != frame.shape[:2]:
            raise MaskSizeError(f"mask is {mask.shape[1]}x{mask.shape[0]}, frame is "
                                f"{frame.shape[1]}x{frame.shape[0]}")
        if not np.asarray(mask).any():
            raise EmptyMaskError("the subject mask is empty")
        self._check_size(frame.shape[0], frame.shape[1])
        self._shape = None
        image = self._image(frame)
        self._shape = (int(frame.shape[0]), int(frame.shape[1]))
        import torch

        first = torch.from_numpy(self.first_mask(mask)).to(self._device)
        self.close()
        self._core = InferenceCore(self._pass_network(), cfg=self._cfg, device=self._device)
        with self._compute():
            self._core.step(image, first, objects=[1])
            for _ in range(self.options.n_warmup + 1):
                output_prob = self._core.step(image, first_frame_pred=True)
            return self._alpha(output_prob)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """Alpha of the next frame, from MatAnyone's memory of the frames before."""
        if self._core is None:
            raise EngineFailedError("MatAnyone was given a frame before its first mask",
                                    "this is a bug: please report it with the job report")
        image = self._image(frame)
        with self._compute():
            alpha = self._alpha(self._core.step(image))
        if self._device.type == "cpu":
            trim()  # the step's freed tensors stay in the heap otherwise: 50-70 MB off the peak
        return alpha

    def close(self) -> None:
        """Forget this pass's memory and graphs (the shared network stays loaded)."""
        if self._graphed is not None:
            self._graphed.close()
            self._graphed = None
        self._core = None
