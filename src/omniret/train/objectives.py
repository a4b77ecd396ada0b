"""Training additions for a space that generalises across sources and modalities (all off by default).

- Text anchor: the pooled text embeddings keep the similarity structure of the composer's own
  sentence embeddings (MiniLM's masked mean) throughout training, not just in the warm start —
  off-domain text keeps MiniLM's generality while the heads learn media (the relational term of
  the warm start, applied to every text-only sample of a batch).
- Negatives curriculum (E5-Omni's controllable negative curriculum): per-chunk negatives first
  (they prevent the collapse, docs/METHOD_NOTES.md), then a growing share of the loss with global
  in-batch negatives, the only signal that puts every modality on one score scale.
- Self-negatives: for a cross-modal pair, the query's own content without its instruction joins the
  candidates as a negative. In a global pool the drawing an I->T query shows is itself a candidate
  (and the title a T->I query types is one too); only the instruction can tell the model to look
  past it, and nothing else in training ever asks it to.
- Instruction mix: a share of queries get the model's target-modality or generic instruction
  instead of their dataset prompt, so searches without a dataset prompt use words seen in training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from omniret.config import ConfigError, QueryInstructionConfig, check_fields
from omniret.instructions import default_instruction


@dataclass
class CurriculumConfig:
    start: int = 0  # stage-1 step where global negatives begin to count
    ramp: int = 1  # steps from 0 to ``weight``
    weight: float = 0.0  # final share of the global-negatives loss; 0 = the scope in loss.* only

    def __post_init__(self) -> None:
        check_fields(self)  # finite
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"negatives_curriculum.weight must be in [0, 1], got {self.weight}")
        if self.ramp < 1 or self.start < 0:
            raise ConfigError("negatives_curriculum: start must be >= 0 and ramp >= 1")


@dataclass
class InstructionMixConfig:
    target: float = 0.0  # probability a query gets the target-modality instruction
    generic: float = 0.0  # probability it gets the generic one

    def __post_init__(self) -> None:
        check_fields(self)  # finite
        if min(self.target, self.generic) < 0 or self.target + self.generic > 1:
            raise ConfigError("instruction_mix: target and generic are probabilities summing to at most 1")


def global_share(step: int, cfg: CurriculumConfig) -> float:
    """Weight of the global-negatives loss at ``step``: 0 before start, linear ramp, then ``weight``."""
    if cfg.weight == 0.0 or step < cfg.start:
        return 0.0
    return cfg.weight * min(1.0, (step - cfg.start + 1) / cfg.ramp)


def pick_instruction(prompts: tuple[str, ...], positive_modalities: list[str], rng: random.Random,
                     mix: InstructionMixConfig, words: QueryInstructionConfig) -> str | None:  # fmt: skip
    """A dataset prompt, or (with the mix's probabilities) the model's target or generic instruction."""
    u = rng.random() if mix.target or mix.generic else 1.0  # no draw when off: older runs replay exactly
    if u < mix.target and words.target:
        return default_instruction(words, positive_modalities)
    if u < mix.target + mix.generic and words.generic:
        return words.generic
    return rng.choice(prompts) if prompts else None


def text_anchor_loss(emb: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """MSE between the cosine matrices of pooled embeddings (n, L) and sentence embeddings (n, D)."""
    if emb.shape[0] < 2:
        return emb.new_zeros(())
    e, m = F.normalize(emb, dim=-1), F.normalize(mean.detach(), dim=-1)
    return F.mse_loss(e @ e.T, m @ m.T)


def self_negative_rows(batch: list, rng: random.Random, share: float) -> list[int]:
    """Indices of the cross-modal pairs (query and positive differ in modality) drawn with ``share``."""
    if share <= 0:
        return []

    def kinds(side: dict) -> frozenset:
        return frozenset(k for k in ("image", "audio", "video", "text") if k in side)

    return [i for i, p in enumerate(batch) if kinds(p.query) != kinds(p.positive) and rng.random() < share]
