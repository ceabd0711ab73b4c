"""A real Stable Diffusion pipeline built from tiny random-weight parts, for tests.

Why: the generated-background code must be exercised through the genuine diffusers classes
(``StableDiffusionPipeline``, its UNet, VAE, CLIP text encoder and tokenizer) without
downloading anything. The parts here are the same architectures as sd-turbo's, only with a few
channels, so loading, dtype handling, callbacks, ``from_pipe`` and decoding run exactly as in
production; the pictures are noise because the weights are random.

The CLIP tokenizer is made from a vocab.json and merges.txt written here: every lowercase
letter and digit (alone and as an end-of-word piece) plus a handful of merges.
"""

from __future__ import annotations

import json
import logging
import string
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

#: Native resolution of the tiny pipeline: UNet sample size 32 x VAE scale factor 2.
TINY_NATIVE_PX = 64

_SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
_MERGES = ("t h", "th e</w>", "s k", "sk y</w>", "o n", "i n", "e r</w>")


def write_tokenizer_files(folder: Path) -> Path:
    """Write a minimal CLIP BPE vocabulary (vocab.json, merges.txt) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces: list[str] = list(_SPECIAL_TOKENS)
    for ch in string.ascii_lowercase + string.digits:
        pieces += [ch, ch + "</w>"]
    for merge in _MERGES:
        merged = merge.replace(" ", "")
        if merged not in pieces:
            pieces.append(merged)
    vocab = {piece: index for index, piece in enumerate(pieces)}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_MERGES) + "\n", encoding="utf-8")
    return folder


def build_tiny_components(tokenizer_dir: Path, seed: int = 0) -> dict:
    """The parts of a Stable Diffusion pipeline, each a few thousand random parameters."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(write_tokenizer_files(tokenizer_dir)), model_max_length=77)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=TINY_NATIVE_PX // 2,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=TINY_NATIVE_PX,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer.get_vocab()),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    # sd-turbo's scheduler: Euler with "trailing" spacing, so 1-4 steps cover the whole schedule.
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def build_tiny_pipeline(work: Path, seed: int = 0):
    """A ready ``StableDiffusionPipeline`` (float32, CPU) made of the tiny parts."""
    from diffusers import StableDiffusionPipeline

    components = build_tiny_components(work / "tokenizer", seed=seed)
    pipe = StableDiffusionPipeline(**components, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Save the tiny pipeline as a diffusers folder, the layout ``from_pretrained`` loads."""
    pipe = build_tiny_pipeline(folder.parent / f"{folder.name}-parts", seed=seed)
    pipe.save_pretrained(str(folder))
    return folder
