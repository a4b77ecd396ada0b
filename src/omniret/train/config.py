"""Training configuration: one YAML per run, strict keys, ``a.b=c`` overrides (same loader as models)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from omniret.config import (
    ConfigError,
    FieldError,
    LossConfig,
    apply_overrides,
    check_fields,
    from_dict,
    read_yaml,
)
from omniret.train.objectives import CurriculumConfig, InstructionMixConfig


@dataclass
class DataConfig:
    pairs: list[str] = field(
        default_factory=list
    )  # pairs.jsonl files (paths inside resolve against the file's dir/..)
    tasks_per_batch: int = 4  # K tasks drawn per batch (docs/METHOD_NOTES.md §8.2)
    pairs_per_task: int = 32  # B/K pairs per task per batch
    datasets_per_task: int = 1
    unique_positives: bool = True  # never two pairs with the same positive id in one dataset draw
    instructions: str | None = None  # query_instructions.tsv giving prompts per (dataset, modalities)
    mbeir: list[str] = field(default_factory=list)  # M-BEIR roots whose query/{mbeir_split}/ files add pairs
    mbeir_split: str = "train"
    dev_fraction: float = 0.0  # share of pair ids held out for checkpoint choice (dev_eval.split_dev)

    def __post_init__(self) -> None:
        check_fields(self, positive=("tasks_per_batch", "pairs_per_task", "datasets_per_task"))
        if not 0 <= self.dev_fraction < 1:
            raise FieldError("dev_fraction", f"must be in [0, 1), got {self.dev_fraction!r}")
        if not self.mbeir_split.strip():
            raise FieldError("mbeir_split", "must not be empty")


@dataclass
class OptimConfig:
    lr: float = 5e-4  # projectors, resampler, pooler (paper stage 1)
    lr_lora: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    min_lr_ratio: float = 0.2  # cosine floor as a fraction of lr (paper stage 1: 1e-4 / 5e-4)
    grad_accum: int = 1
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self, positive=("grad_accum", "grad_clip"),
                     non_negative=("lr", "lr_lora", "weight_decay", "warmup_steps"), unit=("min_lr_ratio",))  # fmt: skip


@dataclass
class EvalConfig:
    root: str | None = None  # M-BEIR-format benchmark for periodic evaluation
    tasks: str = "*"
    every: int = 0  # steps; 0 = only at the end
    max_queries: int = 100  # per task, to keep periodic evaluation cheap

    def __post_init__(self) -> None:
        check_fields(self, positive=("max_queries",), non_negative=("every",))


@dataclass
class WarmStartConfig:
    """Stage 0 before stage 1 (omniret.train.warm): cheap steps that keep the heads from collapsing."""

    steps: int = 0  # 0 = start stage 1 from the random initialisation (the paper)
    lr: float = 1e-3
    temperature: float = 0.05
    relational_weight: float = 10.0
    max_texts: int = 256

    def __post_init__(self) -> None:
        check_fields(
            self, positive=("temperature", "max_texts"), non_negative=("steps", "lr", "relational_weight")
        )


@dataclass
class TrainConfig:
    model: str = "omniret-small"  # preset, model YAML or checkpoint dir to start from
    model_overrides: list[str] = field(default_factory=list)
    stage: int = 1
    # stage 2 copies the image latents into the video ones (the paper's stage 1 has no video); a
    # stage 1 that trained on video pairs (ours) keeps its video latents with False
    init_video_from_image: bool = True
    steps: int = 1000
    max_minutes: float | None = None  # stop (and save) when the time budget is spent
    stop_at: int | None = None  # save and stop here, as if interrupted; the schedule follows `steps`
    seed: int = 0
    out: str = "runs/omniret"
    save_every: int = 200
    modality_temperature: dict[str, float] = field(default_factory=dict)  # task code -> tau (E5-Omni style)
    self_negatives: float = 0.0  # share of cross-modal pairs whose query content is also a negative
    text_anchor_weight: float = 0.0  # pooled text similarities kept to the composer's own (objectives.py)
    negatives_curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    instruction_mix: InstructionMixConfig = field(default_factory=InstructionMixConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    warm_start: WarmStartConfig = field(default_factory=WarmStartConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log_every: int = 10
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if self.stage not in (1, 2):
            raise ConfigError(f"stage must be 1 or 2, got {self.stage}")
        if self.steps <= 0:
            raise ConfigError(f"steps must be positive, got {self.steps}")
        check_fields(self, positive=("save_every", "log_every", "max_minutes", "stop_at"),
                     non_negative=("text_anchor_weight",), unit=("self_negatives",))  # fmt: skip
        for task, tau in self.modality_temperature.items():
            if isinstance(tau, (int, float)) and not (math.isfinite(tau) and tau > 0):
                raise FieldError(
                    f"modality_temperature.{task}", f"must be a positive finite number, got {tau!r}"
                )


def load_train_config(path: str, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """A training YAML plus ``a.b=c`` overrides; any problem is a ConfigError naming the file or key."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"training config not found: {file}")
    data = read_yaml(file, what="training config")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"training config {file}: expected a mapping of keys, got {type(data).__name__}")
    try:
        return from_dict(TrainConfig, apply_overrides(data, list(overrides)))
    except ConfigError as err:
        raise ConfigError(f"training config {file}: {err}") from None
