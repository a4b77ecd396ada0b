"""Warm start ("stage 0") before stage 1: give the heads an informative starting point cheaply.

Why: with frozen towers and a frozen composer, randomly initialised heads collapse in the first
steps of stage 1 — every media item lands on the same composer output and the ASWP text
embeddings start nearly parallel (mean cosine 0.79 between unrelated titles), so in-batch
negatives carry no signal and the contrastive loss sits at log(B) (measured: docs/METHOD_NOTES.md,
"Warm start"). docs/METHOD_NOTES.md (Feasibility) recommends this remedy: pre-train projector + resampler with a
cheap loss that skips the composer on the media side, then fine-tune through it.

Two terms, both without gradients through the composer:
- align: InfoNCE between the mean of an item's resampled media tokens and the frozen composer's
  masked-mean sentence embedding of its paired text (LiT-style; the media side never runs the
  composer, so a step costs ~1/100 of a stage-1 step).
- relational: the pooler's text embeddings copy the similarity structure of the sentence
  embeddings (MSE between the two cosine matrices of a batch of texts), so ASWP starts from a text
  space as discriminative as the composer's own.

This is our addition, not part of the paper (which starts from a pretrained omni LLM).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

from omniret.errors import IntegrityError
from omniret.inputs import OmniInput, Sample
from omniret.train.config import TrainConfig
from omniret.train.data import Pair, to_input

Samples = Callable[[list[OmniInput]], list[list[Sample]]]  # InputPipeline.samples


def sentence_embeddings(model, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frozen composer on plain texts -> (masked-mean (B, D), hidden (B, T, D), mask (B, T))."""
    with torch.no_grad():
        hidden, mask = model.composer(texts, [[] for _ in texts])
    m = mask.to(hidden.dtype)[..., None]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1), hidden, mask


def media_only(sample_groups: list[list[Sample]]) -> list[int]:
    """Indices of items that are one stream of media without text (single-modality media sides)."""
    return [i for i, g in enumerate(sample_groups) if len(g) == 1 and g[0].media and not g[0].text]


def warm_step(model, samples: Samples, batch: list[Pair], *, cfg: TrainConfig, step: int) -> dict:
    """One warm-start step on ``batch``; returns the loss terms."""
    w = cfg.warm_start
    rng = random.Random(cfg.seed * 104_729 + step)
    rng.shuffle(batch)
    media_sides, texts = [], []
    for p in batch:  # (media-only side, text-only side) pairs in either direction
        for a, b in ((p.query, p.positive), (p.positive, p.query)):
            if set(b) == {"text"} and "text" not in a:
                media_sides.append(a)
                texts.append(b["text"])
    all_texts = sorted({s["text"] for p in batch for s in (p.query, p.positive) if "text" in s})
    zero = torch.zeros(())
    align = relational = zero
    if media_sides:
        groups = samples([to_input(s) for s in media_sides])
        keep = media_only(groups)
        if len(keep) > 1:
            target, _, _ = sentence_embeddings(model, [texts[i] for i in keep])
            tokens = model.encode_media([m for i in keep for m in groups[i][0].media])
            pooled, k = [], 0
            for i in keep:  # mean over every resampled token of the item's media
                n = len(groups[i][0].media)
                pooled.append(torch.cat(tokens[k : k + n]).mean(0))
                k += n
            logits = F.normalize(torch.stack(pooled), dim=-1) @ F.normalize(target, dim=-1).T / w.temperature
            labels = _labels([texts[i] for i in keep])
            align = 0.5 * (_soft_ce(logits, labels) + _soft_ce(logits.T, labels.T))
    if len(all_texts) > 1 and model.config.pooler.kind == "aswp":
        mean, hidden, mask = sentence_embeddings(model, all_texts[: w.max_texts])
        e = F.normalize(model.pooler(hidden, mask), dim=-1)
        m = F.normalize(mean, dim=-1)
        relational = F.mse_loss(e @ e.T, m @ m.T)
    total = align + w.relational_weight * relational
    return {"total": total, "align": align, "relational": relational}


def _labels(texts: list[str]) -> torch.Tensor:
    """(B, B) row-normalised targets: every item with the same text is a positive (no false negatives)."""
    same = torch.tensor([[a == b for b in texts] for a in texts], dtype=torch.float32)
    return same / same.sum(1, keepdim=True)


def _soft_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(dim=1)).sum(1).mean()


def run_warm_start(model, samples: Samples, batch_at: Callable[[int], list[Pair]], *, cfg: TrainConfig,
                   log=print) -> list[dict]:  # fmt: skip
    """``cfg.warm_start.steps`` steps of AdamW on the heads' trainable parameters, on batches
    ``batch_at(step)`` (the trainer gives batches disjoint from stage 1's); a no-op when steps == 0."""
    w = cfg.warm_start
    if w.steps <= 0:
        return []
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=w.lr, weight_decay=0.0)
    model.train()
    rows = []
    for step in range(w.steps):
        terms = warm_step(model, samples, batch_at(step), cfg=cfg, step=step)
        if not bool(torch.isfinite(terms["total"].detach()).all()):
            raise IntegrityError(
                f"warm start stopped at warm-start step {step + 1}: the loss is {float(terms['total'])}; "
                "nothing was saved (lower warm_start.lr?)"
            )
        if terms["total"].requires_grad:
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            opt.step()
        rows.append({"warm_step": step + 1, **{k: float(v.detach()) for k, v in terms.items()}})
    last = rows[-1]
    log(f"warm start: {w.steps} steps, align {last['align']:.3f}, relational {last['relational']:.4f}")
    return rows
