"""Hugging Face towers: any local vision encoder (SigLIP, CLIP vision) or Whisper-style encoder,
read with transformers (loaded only when such a tower is built)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omniret._quiet import quiet_transformers
from omniret.assets import resolve
from omniret.config import TowerConfig
from omniret.inputs.modality import Family
from omniret.towers.base import TOWERS, Tower, frames_to_mask


class HFVisionTower(Tower):
    """A Hugging Face vision encoder (SigLIP, CLIP vision): patch tokens from ``feature_layer``."""

    def __init__(self, *, model: nn.Module, feature_layer: int = -1) -> None:
        super().__init__()
        self.model, self.feature_layer = model, feature_layer
        cfg = model.config
        self.modality, self.dim = Family.VISION, cfg.hidden_size
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
        self.modality, self.dim = Family.AUDIO, cfg.d_model
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
        return tokens, frames_to_mask(lengths, tokens.shape[1], stride, x.shape[0], x.device)


def _hf_model(cfg: TowerConfig, default_type: str):
    from transformers import AutoConfig, AutoModel

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
