"""Configuration: small dataclasses per component, loaded from YAML, strict about keys.

Every config is plain data so it can be hashed into checkpoints and indexes. Unknown keys are
errors that name the full dotted key, because a silently ignored typo in a training config costs
hours. Overrides use ``a.b=c`` with YAML-typed values (``pooler.num_slices=1024``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omniret.config_io import (  # re-exported: the config API lives under omniret.config
    ConfigError,
    FieldError,
    _number,
    apply_overrides,
    check_fields,
    from_dict,
    parse_yaml,
    read_yaml,
    to_dict,
)
from omniret.inputs.modality import MEDIA_NAMES


@dataclass
class TowerConfig:
    """A frozen media encoder producing token sequences ``(B, N, dim)``."""

    kind: str = "stand-in"  # tower registry name (see `omniret.towers`)
    modality: str = "vision"  # "vision" (images and video frames) or "audio"
    dim: int = 64  # token width d produced by the tower
    path: str | None = None  # local directory with weights; None = random init (tests, meta counts)
    grid: tuple[int, int] | None = None  # (H, W) token grid of a vision tower
    image_size: int = 224  # input resolution of a vision tower
    n_mels: int = 80  # mel bins of an audio tower
    tokens_per_second: float = 50.0  # audio token rate after the tower (and any pooling)
    pool_stride: int = 1  # average-pool audio tokens by this stride (Qwen-Audio: 2)
    feature_layer: int = -1  # hidden layer to take tokens from (-2 = penultimate, LLaVA)
    hf_config: dict[str, Any] = field(default_factory=dict)  # config kwargs for a random HF tower

    def __post_init__(self) -> None:
        check_fields(self, positive=("image_size", "n_mels", "tokens_per_second", "pool_stride"),
                     choices={"modality": ("vision", "audio")})  # fmt: skip
        if self.grid is not None and (
            len(self.grid) != 2 or not all(_number(g) and g > 0 for g in self.grid)
        ):
            raise FieldError("grid", f"must be two positive integers (H, W), got {self.grid!r}")


@dataclass
class ResamplerConfig:
    """The shared media resampler (docs/METHOD_NOTES.md §4)."""

    num_latents: int = 64  # M media tokens per item sent to the composer
    depth: int = 2
    heads: int = 12
    dim_head: int = 128
    ff_mult: int = 1  # r = 1 keeps the hidden width equal to D (paper; 84 M budget)
    kv_include_latents: bool = True  # Flamingo: latents attend to [media; latents]; False = pure Perceiver
    modality_latents: bool = True  # add a per-modality latent set to the shared one
    kind: str = "shared"  # shared | separate (one per modality) | none (all tower tokens; Table 5 ablations)
    modalities: tuple[str, ...] = MEDIA_NAMES
    video_grid: tuple[int, int, int] = (4, 14, 14)  # (T', H', W') after trilinear interpolation

    def __post_init__(self) -> None:
        if self.kind not in ("shared", "separate", "none"):
            raise ConfigError(f"resampler.kind must be shared, separate or none, got {self.kind!r}")
        check_fields(self, positive=("num_latents", "heads", "dim_head", "ff_mult"), non_negative=("depth",))
        if len(self.video_grid) != 3 or not all(_number(g) and g > 0 for g in self.video_grid):
            raise FieldError(
                "video_grid", f"must be three positive integers (T, H, W), got {self.video_grid!r}"
            )


@dataclass
class LoraConfig:
    """LoRA on the composer in stage 2 (peft)."""

    r: int = 16
    alpha: int = 64
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"

    def __post_init__(self) -> None:
        check_fields(self, positive=("r", "alpha"))
        if not 0 <= self.dropout < 1:
            raise FieldError("dropout", f"must be in [0, 1), got {self.dropout!r}")


@dataclass
class ComposerConfig:
    """The transformer that reads instruction, text and media tokens (docs/METHOD_NOTES.md §1)."""

    arch: str = "bert"  # model_type used for a random or meta build ("bert", "qwen2", ...)
    path: str | None = None  # local Hugging Face directory (weights + tokenizer); None = random init
    hf_config: dict[str, Any] = field(default_factory=dict)  # config kwargs for a random build
    bidirectional: bool = True  # full attention even for decoder LLMs (Omni-Embed-Nemotron)
    template: str = "Instruct: {instruction}\nQuery: {content}"
    normalize_text: bool = True  # UniIR: strip, capitalise, final period
    max_length: int = 512  # text tokens per input (media tokens are never truncated)
    append_eos: bool = False  # decoder LLMs pool at an appended EOS token
    gradient_checkpointing: bool = False
    lora: LoraConfig = field(default_factory=LoraConfig)

    def __post_init__(self) -> None:
        check_fields(self, positive=("max_length",))


@dataclass
class PoolerConfig:
    """How composer hidden states become one embedding (docs/METHOD_NOTES.md §6)."""

    kind: str = "aswp"  # pooler registry name: aswp | eos | cls | mean | multi-vector
    num_latents: int = 128  # N: ASWP resampler latents
    num_refs: int = 128  # S: reference points per slice
    num_slices: int = 4096  # L: slices = embedding dimension
    depth: int = 2
    heads: int = 12
    dim_head: int = 128
    ff_mult: int = 1
    head: str = "stm"  # stm | max | mean | weighted
    stm_temperature: float = 1.0
    sign: str = "ref-minus-sample"  # Monge displacement sign (PSWE convention) or "sample-minus-ref"
    num_vectors: int = 16  # multi-vector pooler

    def __post_init__(self) -> None:
        check_fields(self, positive=("num_latents", "num_refs", "num_slices", "heads", "dim_head", "ff_mult",
                                     "stm_temperature", "num_vectors"), non_negative=("depth",),
                     choices={"head": ("stm", "max", "mean", "weighted"),
                              "sign": ("ref-minus-sample", "sample-minus-ref")})  # fmt: skip


@dataclass
class LossConfig:
    """The OmniRet objective L = L_cont + mu1 L_tri + mu2 L_div (docs/METHOD_NOTES.md §2, §3, §5, §7)."""

    temperature: float = 0.07
    beta: float = 0.5  # hard-negative concentration; 0 = plain InfoNCE
    symmetric: bool = False
    false_negative_threshold: float | None = None  # Nemotron: 0.95
    # global: every other in-batch candidate is a negative (docs/METHOD_NOTES.md §3 default). per_dataset_chunk:
    # only candidates of the query's own (task, dataset) chunk, so a cross-modal positive never
    # competes with same-modality candidates of another task (the modality gap then cannot be
    # "solved" by collapsing every embedding; docs/METHOD_NOTES.md row 3).
    negatives_scope: str = "global"
    detach_weights: bool = False
    triplet_margin: float = 0.1
    triplet_negatives: str = "hardest"  # hardest | mean_all
    triplet_weight: float = 1.0  # mu1
    diversity_weight: float = 0.1  # mu2
    diversity_dropout: float = 0.5
    diversity_beta: float = 0.5  # gamma, the smooth-L1 transition point
    diversity_kind: str = "smooth_l1"  # smooth_l1 | l1 | l2

    def __post_init__(self) -> None:
        if self.negatives_scope not in ("global", "per_dataset_chunk"):
            raise ConfigError(
                f"loss.negatives_scope must be 'global' or 'per_dataset_chunk', got {self.negatives_scope!r}"
            )
        check_fields(self, positive=("temperature",),
                     non_negative=("beta", "triplet_margin", "triplet_weight", "diversity_weight", "diversity_beta"),
                     choices={"triplet_negatives": ("hardest", "mean_all"),
                              "diversity_kind": ("smooth_l1", "l1", "l2")})  # fmt: skip
        if not 0 <= self.diversity_dropout < 1:
            raise FieldError("diversity_dropout", f"must be in [0, 1), got {self.diversity_dropout!r}")


@dataclass
class MediaConfig:
    """How files become tower inputs (part of every recipe hash)."""

    max_frames: int = 8  # video frames sampled per clip (model card of OmniRet: 8)
    frame_sampling: str = "uniform"  # uniform | keyframe
    video_audio: str = "early"  # audio track: early (one sequence), late (fused after pooling) or off
    max_audio_seconds: float = 600.0  # longer inputs are refused (split them; `omniret index` does)
    max_image_pixels: int = 64_000_000

    def __post_init__(self) -> None:
        if self.frame_sampling not in ("uniform", "keyframe"):
            raise ConfigError(
                f"media.frame_sampling must be uniform or keyframe, got {self.frame_sampling!r}"
            )
        if self.video_audio not in ("early", "late", "off"):
            raise ConfigError(f"media.video_audio must be early, late or off, got {self.video_audio!r}")
        check_fields(self, positive=("max_frames", "max_audio_seconds", "max_image_pixels"))


@dataclass
class HintsConfig:
    """Tower text hints: the frozen towers' own zero-shot words, placed after each media placeholder.

    Not in the paper (off in ``omniret-paper``): where a tower already knows the answer in words
    (ImageNet labels of a photo, the transcript of speech), the composer reads those words next to
    the resampled media tokens instead of relearning them from a few thousand pairs
    (docs/METHOD_NOTES.md, Held-out generalisation).
    """

    image_labels: int = 0  # top-k ImageNet labels of an image or a video's frames; 0 = off
    min_label_prob: float = 0.05  # labels below this probability are left out (the top one always stays)
    transcripts: bool = False  # Whisper transcript of speech in audio and video tracks
    max_transcript_words: int = 40
    no_speech_max: float = 0.6  # a Whisper segment above this no-speech probability is dropped
    min_avg_logprob: float = -1.0  # ... and one whose mean token log-probability is below this
    # Late fusion inside the model: an item whose every medium has words also gets the embedding of
    # those words alone (media tokens left out), mixed in with this weight. 0 = off. The composer
    # reads text as MiniLM does (text anchor), so the words alone carry the towers' zero-shot
    # meaning even where the learned media tokens are off-domain (docs/METHOD_NOTES.md, "Words").
    words_weight: float = 0.0

    def __post_init__(self) -> None:
        check_fields(
            self,
            non_negative=("image_labels", "max_transcript_words"),
            unit=("min_label_prob", "words_weight"),
        )

    @property
    def enabled(self) -> bool:
        return self.image_labels > 0 or self.transcripts


@dataclass
class QueryInstructionConfig:
    """Instructions the model was trained with when a query does not come with its own.

    ``target`` names the modality the caller asks for ("Retrieve an image that matches the
    query."); ``generic`` is for a search over every modality. Training mixes both into the dataset
    prompts (``instruction_mix``), so a CLI search without ``--instruction`` uses words the model
    has seen. None = the caller's instruction only (the paper).
    """

    generic: str | None = None
    target: str | None = None  # a template with {article} and {modality}


@dataclass
class ModelConfig:
    """A whole OmniRet model: towers -> projectors -> resampler -> composer -> pooler."""

    name: str = "custom"
    dim: int = 384  # D: composer hidden size = resampler width
    towers: dict[str, TowerConfig] = field(default_factory=dict)  # keyed by modality family
    resampler: ResamplerConfig = field(default_factory=ResamplerConfig)
    composer: ComposerConfig = field(default_factory=ComposerConfig)
    pooler: PoolerConfig = field(default_factory=PoolerConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    hints: HintsConfig = field(default_factory=HintsConfig)
    query_instructions: QueryInstructionConfig = field(default_factory=QueryInstructionConfig)

    def __post_init__(self) -> None:
        for key, tower in self.towers.items():
            if key != tower.modality:
                raise ConfigError(f"towers.{key}: key must equal its modality ({tower.modality!r})")
        for family in ("vision", "audio"):
            if family in self.towers and self.towers[family].dim <= 0:
                raise ConfigError(f"towers.{family}.dim must be positive")
        check_fields(self, positive=("dim",))


def preset_names() -> list[str]:
    files = resources.files("omniret.presets").iterdir()
    return sorted(p.name[: -len(".yaml")] for p in files if p.name.endswith(".yaml"))


def load_config(source: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ModelConfig:
    """Load a model config from a preset name or a YAML file, then apply overrides."""
    source = str(source)
    if source in preset_names():
        text = resources.files("omniret.presets").joinpath(f"{source}.yaml").read_text()
        data = parse_yaml(text, f"preset {source}")
    elif Path(source).is_file():
        data = read_yaml(source, what="model config")
    else:
        raise ConfigError(f"{source!r} is neither a preset ({', '.join(preset_names())}) nor a YAML file")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"model config {source}: expected a mapping of keys, got {type(data).__name__}")
    return from_dict(ModelConfig, apply_overrides(data, overrides))


def dump_config(cfg: Any) -> str:
    import yaml

    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
