"""Frozen media towers: pixels or log-mels in, token sequences (B, N, d) plus a mask out.

Each tower declares its modality family, token width and (for vision) token grid so video frames
can be laid out as a (T, H, W) grid. Towers are frozen: built in eval mode with gradients off and
always run under ``no_grad`` by the model. Pretrained packaged towers (EfficientNet-Lite0,
Whisper tiny.en) arrive with the media layer; without local weights every kind falls back to a
random stand-in of exactly the declared shapes, which is what shape tests and parameter counts use.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from omniret.assets import resolve
from omniret.config import TowerConfig
from omniret.recipes import AudioRecipe, ImageRecipe, recipe_hash
from omniret.registry import Registry

TOWERS: Registry = Registry("tower")
MEL_FRAMES_PER_SECOND = 100  # 16 kHz audio, hop 160


class Tower(nn.Module):
    """Base class: ``forward(x, lengths=None) -> (tokens (B, N, d), mask (B, N) bool | None)``."""

    modality: str = "vision"
    dim: int = 0
    grid: tuple[int, int] | None = None
    recipe: ImageRecipe | AudioRecipe = ImageRecipe()
    tower_id: str = ""  # identifies the weights; empty for random weights (never cached)

    def freeze(self) -> Tower:
        self.eval()
        self.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> Tower:  # frozen towers never leave eval mode
        return super().train(False)


def _frames_to_mask(
    lengths: torch.Tensor | None, n: int, stride: int, batch: int, device
) -> torch.Tensor | None:
    if lengths is None:
        return None
    n_valid = torch.div(lengths + stride - 1, stride, rounding_mode="floor").clamp(1, n)  # ceil
    return torch.arange(n, device=device)[None, :] < n_valid.to(device)[:, None]  # (B, N)


class StandInVisionTower(Tower):
    """Random patchify conv with the declared grid and width: (B, 3, S, S) -> (B, gh*gw, d)."""

    def __init__(self, *, dim: int, grid: tuple[int, int], image_size: int) -> None:
        super().__init__()
        self.modality, self.dim, self.grid = "vision", dim, tuple(grid)
        patch = image_size // grid[0]
        self.conv = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        tokens = self.conv(x)  # (B, d, gh, gw)
        return tokens.flatten(2).transpose(1, 2), None  # (B, gh*gw, d)


class StandInAudioTower(Tower):
    """Random strided conv over log-mels at the declared token rate: (B, n_mels, F) -> (B, N, d)."""

    def __init__(self, *, dim: int, n_mels: int, tokens_per_second: float) -> None:
        super().__init__()
        self.modality, self.dim = "audio", dim
        self.stride = max(1, round(MEL_FRAMES_PER_SECOND / tokens_per_second))
        self.conv = nn.Conv1d(n_mels, dim, kernel_size=self.stride, stride=self.stride)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        pad = (-x.shape[-1]) % self.stride
        tokens = self.conv(F.pad(x, (0, pad))).transpose(1, 2)  # (B, N, d)
        return tokens, _frames_to_mask(lengths, tokens.shape[1], self.stride, x.shape[0], x.device)


def _stand_in(cfg: TowerConfig) -> Tower:
    if cfg.modality == "vision":
        if cfg.grid is None:
            raise ValueError(f"vision tower {cfg.kind!r} needs a token grid (towers.vision.grid)")
        return StandInVisionTower(dim=cfg.dim, grid=cfg.grid, image_size=cfg.image_size)
    return StandInAudioTower(dim=cfg.dim, n_mels=cfg.n_mels, tokens_per_second=cfg.tokens_per_second)


@TOWERS.register("stand-in")
def _build_stand_in(cfg: TowerConfig) -> Tower:
    return _stand_in(cfg)


@TOWERS.register("efficientnet-lite0")
def _build_efficientnet(cfg: TowerConfig) -> Tower:
    from omniret.model.packaged import EfficientNetTower

    weights = resolve(cfg.path, what="towers.vision.path") if cfg.path else None
    return EfficientNetTower(weights=weights, image_size=cfg.image_size)


@TOWERS.register("whisper-tiny-en")
def _build_whisper_ct2(cfg: TowerConfig) -> Tower:
    if cfg.path is None:  # CTranslate2 models cannot be randomly initialised: same-shape stand-in
        return _stand_in(cfg)
    from omniret.model.packaged import WhisperCT2Tower

    return WhisperCT2Tower(path=resolve(cfg.path, what="towers.audio.path"))


class HFVisionTower(Tower):
    """A Hugging Face vision encoder (SigLIP, CLIP vision): patch tokens from ``feature_layer``."""

    def __init__(self, *, model: nn.Module, feature_layer: int = -1) -> None:
        super().__init__()
        self.model, self.feature_layer = model, feature_layer
        cfg = model.config
        self.modality, self.dim = "vision", cfg.hidden_size
        side = cfg.image_size // cfg.patch_size
        self.grid = (side, side)
        self.n_prefix = 1 if "clip" in cfg.model_type else 0  # CLIP prepends a CLS token

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        out = self.model(pixel_values=x, output_hidden_states=True)
        tokens = out.hidden_states[self.feature_layer][:, self.n_prefix :]  # (B, gh*gw, d)
        return tokens, None


class HFWhisperEncoderTower(Tower):
    """A Whisper-style encoder on 30 s mel windows, trimmed to the real length, optionally pooled."""

    def __init__(self, *, encoder: nn.Module, pool_stride: int = 1) -> None:
        super().__init__()
        self.encoder, self.pool_stride = encoder, pool_stride
        cfg = encoder.config
        self.modality, self.dim = "audio", cfg.d_model
        self.window = 2 * cfg.max_source_positions  # mel frames the encoder requires

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """(B, n_mels, F) -> tokens (B, N, d) + mask; long inputs are encoded window by window."""
        stride = 2 * self.pool_stride  # mel frames per output token
        chunks = []
        for start in range(0, max(x.shape[-1], 1), self.window):
            piece = x[..., start : start + self.window]
            n_tok = -(-piece.shape[-1] // stride)  # tokens this window really covers
            piece = F.pad(piece, (0, self.window - piece.shape[-1]))  # (B, n_mels, window)
            tokens = self.encoder(input_features=piece).last_hidden_state  # (B, window/2, d)
            if self.pool_stride > 1:
                tokens = F.avg_pool1d(tokens.transpose(1, 2), self.pool_stride).transpose(1, 2)
            chunks.append(tokens[:, :n_tok])
        tokens = torch.cat(chunks, dim=1)  # (B, N, d)
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[-1], device=x.device)
        return tokens, _frames_to_mask(lengths, tokens.shape[1], stride, x.shape[0], x.device)


def _hf_model(cfg: TowerConfig, default_type: str):
    from transformers import AutoConfig, AutoModel

    from omniret._quiet import quiet_transformers

    quiet_transformers()

    if cfg.path is not None:
        return AutoModel.from_pretrained(str(resolve(cfg.path, what=f"towers.{cfg.modality}.path")))
    kwargs = dict(cfg.hf_config)
    model_type = kwargs.pop("model_type", default_type)
    return AutoModel.from_config(AutoConfig.for_model(model_type, **kwargs))


@TOWERS.register("hf-vision")
def _build_hf_vision(cfg: TowerConfig) -> Tower:
    model = _hf_model(cfg, "siglip_vision_model")
    if hasattr(model, "vision_model") and not hasattr(model.config, "image_size"):
        model = model.vision_model  # a full CLIP/SigLIP checkpoint: keep the vision half
    return HFVisionTower(model=model, feature_layer=cfg.feature_layer)


@TOWERS.register("hf-whisper-encoder")
def _build_hf_whisper(cfg: TowerConfig) -> Tower:
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    if cfg.path is None:
        return HFWhisperEncoderTower(
            encoder=WhisperEncoder(WhisperConfig(**cfg.hf_config)), pool_stride=cfg.pool_stride
        )
    model = _hf_model(cfg, "whisper")
    encoder = model.get_encoder() if hasattr(model, "get_encoder") else model
    return HFWhisperEncoderTower(encoder=encoder, pool_stride=cfg.pool_stride)


def build_tower(cfg: TowerConfig, *, load_weights: bool = True) -> Tower:
    """Build a frozen tower; ``load_weights=False`` gives the same architecture with random weights."""
    if not load_weights and cfg.path is not None:
        cfg = replace(cfg, path=None)
    tower = TOWERS.get(cfg.kind)(cfg)
    if tower.dim != cfg.dim:
        raise ValueError(
            f"towers.{cfg.modality}: built tower has width {tower.dim}, config says dim={cfg.dim}"
        )
    tower.recipe = _recipe(cfg)
    tower.tower_id = f"{cfg.kind}:{cfg.path}:{recipe_hash(_identity(cfg))}" if cfg.path else ""
    return tower.freeze()


def _identity(cfg: TowerConfig) -> dict:
    return {"layer": cfg.feature_layer, "pool": cfg.pool_stride, "hf": cfg.hf_config}


def _recipe(cfg: TowerConfig) -> ImageRecipe | AudioRecipe:
    if cfg.modality == "audio":
        return AudioRecipe(n_mels=cfg.n_mels)
    if cfg.kind == "hf-vision" and cfg.path:
        return _hf_image_recipe(resolve(cfg.path, what="towers.vision.path"), cfg.image_size)
    return ImageRecipe(size=cfg.image_size)


def _hf_image_recipe(path: Path, size: int) -> ImageRecipe:
    """Read size/mean/std/cropping from a Hugging Face preprocessor_config.json when present."""
    import json

    file = path / "preprocessor_config.json"
    if not file.is_file():
        return ImageRecipe(size=size, resize="squash")
    pre = json.loads(file.read_text())
    crop = pre.get("do_center_crop", False)
    return ImageRecipe(
        size=size,
        resize="shorter-crop" if crop else "squash",
        mean=tuple(pre.get("image_mean", (0.5, 0.5, 0.5))),
        std=tuple(pre.get("image_std", (0.5, 0.5, 0.5))),
    )
