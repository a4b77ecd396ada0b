"""OmniRet: frozen towers -> projector -> shared media resampler -> composer -> pooler -> unit vector.

One encoder for both sides (docs/METHOD_NOTES.md §1): queries carry an instruction, candidates do not.
Media can arrive raw (tower inputs) or as cached tower tokens, so training never re-runs a tower.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from omniret.config import LoraConfig, ModelConfig
from omniret.inputs.modality import MEDIA_NAMES, family_of
from omniret.inputs.sample import Media, Sample, render, words_only
from omniret.model.composer import Composer
from omniret.model.poolers import build_pooler
from omniret.model.projector import Projector
from omniret.model.resampler import SeparateMediaResamplers, SharedMediaResampler, interpolate_video
from omniret.towers import LazyTower, Tower, build_tower


@dataclass
class EmbedOutput:
    embeddings: torch.Tensor  # (B, L) unit vectors, or (B, V, D) unit multi-vectors
    media_tokens: torch.Tensor | None  # (n_media, M, D) resampled tokens, for the diversity loss
    mean_pooled: torch.Tensor | None = None  # (B, D) masked mean of the composer states (text anchor)


class OmniRet(nn.Module):
    """The whole model; build it from a config with :meth:`build`."""

    def __init__(
        self,
        *,
        config: ModelConfig,
        towers: dict[str, Tower],
        projectors: dict[str, Projector],
        resampler: nn.Module | None,
        composer: Composer,
        pooler: nn.Module,
    ) -> None:
        super().__init__()
        self.config = config
        self.towers = nn.ModuleDict(towers)
        self.projectors = nn.ModuleDict(projectors)
        self.resampler, self.composer, self.pooler = resampler, composer, pooler
        self.stage = 0

    @classmethod
    def build(cls, config: ModelConfig, *, load_weights: bool = True, lazy_towers: bool = False,
              native_composer: bool = False) -> OmniRet:  # fmt: skip
        """Towers and composer from their local weights (``load_weights``), heads freshly initialised.
        For inference: ``lazy_towers`` builds each tower when first used (``towers/lazy.py``);
        ``native_composer`` builds a plain BERT composer without transformers (``model/bert.py``;
        it takes no LoRA, so such a model is not for stage-2 training)."""
        make = LazyTower if lazy_towers else build_tower
        r = config.resampler
        kwargs = dict(
            dim=config.dim,
            num_latents=r.num_latents,
            modalities=r.modalities,
            depth=r.depth,
            heads=r.heads,
            dim_head=r.dim_head,
            ff_mult=r.ff_mult,
            modality_latents=r.modality_latents,
            kv_include_latents=r.kv_include_latents,
            video_grid=r.video_grid,
        )
        return cls(
            config=config,
            towers={k: make(t, load_weights=load_weights) for k, t in config.towers.items()},
            projectors={k: Projector(in_dim=t.dim, dim=config.dim) for k, t in config.towers.items()},
            resampler=_build_resampler(r.kind, kwargs),
            composer=Composer.from_config(
                config.composer, dim=config.dim, load_weights=load_weights, native=native_composer
            ),
            pooler=build_pooler(config.dim, config.pooler),
        )

    @property
    def dim(self) -> int:
        """Embedding width (L for ASWP)."""
        return self.pooler.out_dim

    # ------------------------------------------------------------------ media

    def encode_media(self, items: list[Media]) -> list[torch.Tensor]:
        """Media items -> the tokens each contributes to the composer, (M, D) each, in input order."""
        out: list[torch.Tensor | None] = [None] * len(items)
        for modality in MEDIA_NAMES:
            idx = [i for i, m in enumerate(items) if m.modality == modality]
            if idx:
                for i, tokens in zip(
                    idx, self._resample_group(modality, [items[i] for i in idx]), strict=True
                ):
                    out[i] = tokens
        return out  # type: ignore[return-value]

    def _resample_group(self, modality: str, items: list[Media]) -> list[torch.Tensor]:
        family = family_of(modality)
        if family not in self.towers:
            raise ValueError(f"this model has no {family} tower, so it cannot read {modality}")
        tower = self.towers[family]
        if modality == "video":
            tokens, mask = (
                torch.stack([self._video_grid(tower, m) for m in items]),
                None,
            )  # (n, T', H', W', d)
        else:
            tokens, mask = self._tower_tokens(tower, items)  # (n, N, d), (n, N)
        x = self.projectors[family](tokens)
        if self.resampler is None:  # "no resampler" ablation: every real tower token goes to the composer
            x = x.flatten(1, -2)  # (n, N, D); a video grid flattens to (n, T'H'W', D)
            return list(x) if mask is None else [row[m] for row, m in zip(x, mask, strict=True)]
        return list(self.resampler(x, modality, mask))  # n x (M, D)

    def _tower_tokens(self, tower: Tower, items: list[Media]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if all(m.is_features for m in items):
            return _pad([m.data for m in items])
        if any(m.is_features for m in items):
            raise ValueError("a batch mixes cached features and raw inputs for one modality")
        raw, lengths = _pad_last([m.data for m in items])  # (n, ..., F_max)
        with torch.no_grad():
            return tower(raw, lengths)

    def _video_grid(self, tower: Tower, item: Media) -> torch.Tensor:
        """One video -> (T', H', W', d) tower-width grid, interpolated before the projector (cheaper)."""
        x = item.data
        if not item.is_features:
            with torch.no_grad():
                x, _ = tower(x)  # frames as a batch: (T, N, d)
        if x.dim() == 3:
            if tower.grid is None or tower.grid[0] * tower.grid[1] != x.shape[1]:
                raise ValueError(
                    f"video frame tokens {tuple(x.shape)} do not fit the tower grid {tower.grid}"
                )
            x = x.reshape(x.shape[0], *tower.grid, x.shape[-1])  # (T, H, W, d)
        return interpolate_video(x[None], self.config.resampler.video_grid)[0]

    # ------------------------------------------------------------------ embedding

    def forward(self, samples: list[Sample]) -> EmbedOutput:
        """Samples -> unit embeddings (+ the resampled media tokens for L_div)."""
        twins = self._word_twins(samples)  # index in samples -> its words-only text sample
        hidden, mask, tokens = self._compose([*samples, *twins.values()])  # twins: no media
        emb = F.normalize(self.pooler(hidden, mask), dim=-1)  # hidden, mask: (B + n_twins, T, D), (.., T)
        n = len(samples)
        if twins:
            w = self.config.hints.words_weight
            rows = torch.tensor(list(twins), device=emb.device)
            mixed = (1 - w) * emb[rows] + w * emb[n:]  # (n_twins, L)
            emb = emb[:n].index_copy(0, rows, F.normalize(mixed, dim=-1))
        resampled = torch.stack(tokens) if tokens and self.resampler is not None else None
        m = mask[:n].to(hidden.dtype)[..., None]
        mean = (hidden[:n] * m).sum(1) / m.sum(1).clamp(min=1)  # MiniLM's own sentence embedding
        return EmbedOutput(emb, resampled, mean)

    def _compose(self, samples: list[Sample]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Samples -> composer hidden states (B, T, D), real-token mask (B, T) and the resampled tokens
        of every media item in order, before any pooling (the one path of ``forward`` and ``token_states``)."""
        flat = [m for s in samples for m in s.media]
        tokens = self.encode_media(flat) if flat else []
        per_sample, k = [], 0
        for s in samples:
            per_sample.append(tokens[k : k + len(s.media)])
            k += len(s.media)
        c = self.config.composer
        texts = [render(s, template=c.template, normalize=c.normalize_text) for s in samples]
        hidden, mask = self.composer(texts, per_sample)
        return hidden, mask, tokens

    @torch.no_grad()
    def token_states(self, samples: list[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
        """Inference: the composer's final hidden states (B, T, D) and real-token mask (B, T), unpooled.

        The same path as :meth:`embed` up to the pooler (media resampled and spliced in, so media
        tokens are among the states), without words-only twins: late-interaction reranking
        (``index/rerank.py``) scores these per token, as no shipped checkpoint trains a multi-vector pooler."""
        was_training = self.training
        self.eval()
        try:
            hidden, mask, _ = self._compose(samples)
            return hidden, mask
        finally:
            self.train(was_training)

    def _word_twins(self, samples: list[Sample]) -> dict[int, Sample]:
        """Words-only twins of the samples whose every medium has hint words (HintsConfig.words_weight)."""
        if self.config.hints.words_weight <= 0:
            return {}
        twins = {i: words_only(s) for i, s in enumerate(samples)}
        return {i: t for i, t in twins.items() if t is not None}

    @torch.no_grad()
    def embed(self, samples: list[Sample]) -> torch.Tensor:
        """Inference: unit embeddings only, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            return self.forward(samples).embeddings
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ training stages

    def set_stage(
        self, stage: int, *, lora: LoraConfig | None = None, init_video_from_image: bool = True
    ) -> None:
        """Stage 1: projectors, resampler, pooler. Stage 2: + LoRA on the composer (docs/METHOD_NOTES.md §8.1)."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        self.requires_grad_(False)
        for part in (self.projectors, self.resampler, self.pooler):
            if part is not None:
                part.requires_grad_(True)
        if stage == 2:
            self.composer.add_lora(lora or self.config.composer.lora)
            for name, p in self.composer.named_parameters():
                p.requires_grad_("lora_" in name)
            r = self.config.resampler
            has_video_latents = {"image", "video"} <= set(r.modalities) and (
                r.kind == "separate" or (r.kind == "shared" and r.modality_latents)
            )
            if init_video_from_image and self.stage < 2 and has_video_latents:
                self.resampler.init_modality_from("video", "image")
        self.stage = stage


def _build_resampler(kind: str, kwargs: dict) -> nn.Module | None:
    if kind == "none":
        return None
    return SharedMediaResampler(**kwargs) if kind == "shared" else SeparateMediaResamplers(**kwargs)


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (N_i, d) sequences -> (n, N_max, d) and a (n, N_max) bool mask."""
    n_max = max(s.shape[0] for s in seqs)
    out = seqs[0].new_zeros(len(seqs), n_max, seqs[0].shape[-1])
    mask = torch.zeros(len(seqs), n_max, dtype=torch.bool, device=out.device)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]], mask[i, : s.shape[0]] = s, True
    return out, mask


def _pad_last(raw: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad the last axis (audio frames); images of one size stack unchanged."""
    lengths = torch.tensor([r.shape[-1] for r in raw], device=raw[0].device)
    width = int(lengths.max())
    return torch.stack([F.pad(r, (0, width - r.shape[-1])) for r in raw]), lengths
