"""The encode API: ``load_model(name_or_dir).encode([OmniInput(...), ...]) -> (n, dim) float32``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from omniret.cache import FeatureCache
from omniret.checkpoint import is_checkpoint, load_checkpoint, recipes, weights_hash
from omniret.config import load_config, preset_names
from omniret.errors import InputError, IntegrityError
from omniret.features import FeatureExtractor
from omniret.hints import HintMaker
from omniret.inputs import InputTypeError, OmniInput
from omniret.media.audio import SAMPLE_RATE, AudioSpan
from omniret.model import Media, OmniRet, Sample

SHIPPED = Path(__file__).parent / "weights"  # trained heads that ship with the package, one dir per preset


class ModelNotFoundError(InputError, FileNotFoundError):
    """``load_model`` got a name that is no preset, baseline, checkpoint or YAML file."""


class Embedder:
    """An OmniRet model plus its media pipeline and feature cache."""

    def __init__(self, model: OmniRet, *, cache: FeatureCache | None = None, model_id: str | None = None,
                 precision: str = "auto") -> None:  # fmt: skip
        self.model = model.eval()
        self.cache = cache
        self.model_id = model_id or model.config.name
        self.precision = resolve_precision(precision, next(model.parameters()).device.type)
        self.features = FeatureExtractor(dict(model.towers.items()), model.config.media, cache)
        self.hints = HintMaker(towers=dict(model.towers.items()), cfg=model.config.hints,
                               media=model.config.media, cache=cache)  # fmt: skip

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def weights_hash(self) -> str:
        """Hashing every head tensor costs ~13 ms; searches and index rows ask for it constantly, so it
        is memoised on the tensors' identities and in-place version counters (training bumps them)."""
        key = tuple((p.data_ptr(), p._version) for p in self.model.parameters())
        if getattr(self, "_hash_key", None) != key:
            self._hash_key, self._hash = key, weights_hash(self.model)
        return self._hash

    @property
    def recipes(self) -> dict:
        return recipes(self.model)

    def encode(self, inputs: list[OmniInput], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        """Unit embeddings (n, dim) float32 in input order; inputs are batched by modality signature."""
        if isinstance(inputs, OmniInput):
            raise InputTypeError("encode takes a list of OmniInput, got one OmniInput (wrap it in a list)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        inputs = list(inputs)
        for i, x in enumerate(inputs):
            if not isinstance(x, OmniInput):
                raise InputTypeError(f"inputs[{i}] is {type(x).__name__}, expected omniret.OmniInput")
        out = None  # (n, dim), or (n, V, D) for a multi-vector pooler (scored with MaxSim)
        # similar lengths together: padded audio tokens cost the resampler as much as real ones
        order = sorted(range(len(inputs)), key=lambda i: (inputs[i].signature(), _audio_size(inputs[i]),
                                                          len(inputs[i].text or "")))  # fmt: skip
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for chunk in _progress(chunks, progress, total=len(inputs)):
            emb = self._encode_chunk([inputs[i] for i in chunk])
            _check_finite(emb, chunk, inputs, self.model_id)
            if out is None:
                out = np.zeros((len(inputs), *emb.shape[1:]), dtype=np.float32)
            out[chunk] = emb
        return np.zeros((0, self.dim), dtype=np.float32) if out is None else out

    @torch.no_grad()
    def _encode_chunk(self, chunk: list[OmniInput]) -> np.ndarray:
        streams = self.samples(chunk)  # 1 sample per input, 2 for late-fused videos
        device = next(self.model.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            emb = self.model.embed([s for group in streams for s in group])
        return fuse_streams(emb.float(), streams).numpy()

    def samples(self, chunk: list[OmniInput]) -> list[list[Sample]]:
        """Media -> cached tower tokens -> model samples (one field of the chunk at a time, batched)."""
        feats: dict[str, list] = {}
        for field in ("image", "audio", "video"):
            values: list = [None] * len(chunk)
            groups: dict = {}
            for i, x in enumerate(chunk):
                if getattr(x, field) is not None:  # spans are part of the cache key: batch per span
                    groups.setdefault(None if field == "image" else x.span, []).append(i)
            for span, group in groups.items():
                got = self._extract(field, [getattr(chunk[i], field) for i in group], span)
                for i, g in zip(group, got, strict=True):
                    values[i] = g
            feats[field] = values
        hints = self._hints(chunk, feats)
        return [self._streams(x, i, feats, hints) for i, x in enumerate(chunk)]

    def _hints(self, chunk: list[OmniInput], feats: dict) -> dict[str, list]:
        """Per field, each input's hint: labels from its cached tokens, transcripts (cached) per span."""
        out: dict[str, list] = {"image": [None] * len(chunk), "audio": [None] * len(chunk),
                                "video": [(None, None)] * len(chunk)}  # fmt: skip
        if not self.model.config.hints.enabled:
            return out
        for i, x in enumerate(chunk):
            if x.image is not None:
                out["image"][i] = self.hints.image(feats["image"][i])
        for field in ("audio", "video"):
            groups: dict = {}
            for i, x in enumerate(chunk):
                if getattr(x, field) is not None:
                    groups.setdefault(x.span, []).append(i)
            for span, group in groups.items():
                sources = [getattr(chunk[i], field) for i in group]
                if field == "audio":
                    for i, h in zip(group, self._audio_hints(sources, span), strict=True):
                        out["audio"][i] = h
                    continue
                for i, h in zip(group, self.hints.video_tracks(sources, span=span), strict=True):
                    out["video"][i] = (self.hints.video(feats["video"][i][0]), h)
        return out

    def _audio_hints(self, sources: list, span) -> list:
        """Transcript hints; a span of an audio file is passed as an ``AudioSpan``, so the hint decodes
        only that span (after a seek in a long file), never the whole recording."""
        if span is None:
            return self.hints.audio(sources, span=None)
        files = [i for i, s in enumerate(sources) if not isinstance(s, (tuple, np.ndarray, AudioSpan))]
        rest = [i for i in range(len(sources)) if i not in set(files)]  # arrays: cut in memory
        out: list = [None] * len(sources)
        if files:
            got = self.hints.audio([AudioSpan(sources[i], *span) for i in files], span=None)
            for i, h in zip(files, got, strict=True):
                out[i] = h
        if rest:
            for i, h in zip(rest, self.hints.audio([sources[i] for i in rest], span=span), strict=True):
                out[i] = h
        return out

    def _extract(self, field: str, sources: list, span) -> list:
        if field == "image":
            return self.features.images(sources)
        if field == "audio":
            return self.features.audios(sources, span=span)
        return self.features.videos(sources, span=span)

    def _streams(self, x: OmniInput, i: int, feats: dict, hints: dict) -> list[Sample]:
        media = []
        if x.image is not None:
            media.append(Media("image", feats["image"][i], is_features=True, hint=hints["image"][i]))
        if x.audio is not None:
            media.append(Media("audio", feats["audio"][i], is_features=True, hint=hints["audio"][i]))
        if x.video is None:
            return [Sample(text=x.text, media=media, instruction=x.instruction)]
        frames, track = feats["video"][i]
        frame_hint, track_hint = hints["video"][i]
        video = Media("video", frames, is_features=True, hint=frame_hint)
        if track is None or self.model.config.media.video_audio == "off":
            return [Sample(text=x.text, media=[*media, video], instruction=x.instruction)]
        track_media = Media("audio", track, is_features=True, hint=track_hint)
        if self.model.config.media.video_audio == "early":  # one sequence: <video> <audio> text
            return [Sample(text=x.text, media=[*media, video, track_media], instruction=x.instruction)]
        return [  # late (Omni-Embed-Nemotron): separate streams, fused after pooling
            Sample(text=x.text, media=[*media, video], instruction=x.instruction),
            Sample(text=x.text, media=[*media, track_media], instruction=x.instruction),
        ]

    def transcribe(self, audio) -> str:
        """Speech recognition with the audio tower, when it can (Whisper CT2)."""
        from omniret.media import load_audio

        tower = self.model.towers["audio"] if "audio" in self.model.towers else None
        if tower is None or not hasattr(tower, "transcribe"):
            raise ValueError(f"the audio tower of {self.model_id} cannot transcribe")
        return tower.transcribe(load_audio(audio))


def _check_finite(emb: np.ndarray, rows: list[int], inputs: list[OmniInput], model_id: str) -> None:
    """Refuse NaN or infinite embeddings where they first appear, naming the input (a model with
    broken weights; the index would store them and LanceDB refuse them later)."""
    finite = np.isfinite(emb.reshape(len(rows), -1)).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise IntegrityError(
            f"model {model_id} produced a non-finite embedding for inputs[{rows[bad]}] "
            f"({inputs[rows[bad]].describe()}); its weights are likely broken"
        )


def resolve_precision(precision: str | None, device: str = "cpu") -> str:
    """ "auto" -> bf16 autocast for the heads where the hardware computes bf16 natively, else fp32.

    Measured on 2 AVX512-BF16 cores: the heads run 2.1x faster and every embedding keeps cosine
    >= 0.9999 to fp32, so rankings are unchanged; on CPUs without native bf16 autocast is slower
    than fp32, hence the check. ``OMNIRET_PRECISION=fp32`` turns "auto" into full precision.
    """
    import os

    if precision in (None, "auto"):  # an explicit choice wins over the environment
        precision = os.environ.get("OMNIRET_PRECISION") or "auto"
    if precision not in {"auto", "fp32", "bf16"}:
        raise InputError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if precision != "auto":
        return precision
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        native = device == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private probe: absent in some builds -> be safe
        native = False
    return "bf16" if native else "fp32"


def _audio_size(x: OmniInput) -> float:
    """A cheap length proxy for sorting: samples of an in-memory wave, bytes of a file, the span."""
    a = x.audio
    if a is None:
        return 0.0
    if x.span is not None:
        return float(x.span[1] - x.span[0]) * SAMPLE_RATE
    if isinstance(a, AudioSpan):
        return float(a.t1 - a.t0) * SAMPLE_RATE
    if isinstance(a, tuple):
        return float(len(a[0]))
    if isinstance(a, np.ndarray):
        return float(a.shape[-1])
    try:
        return float(Path(a).stat().st_size)
    except (OSError, TypeError):
        return 0.0


def fuse_streams(emb: torch.Tensor, streams: list[list[Sample]]) -> torch.Tensor:
    """Late fusion: average each input's stream embeddings (unit vectors) and renormalise."""
    rows, k = [], 0
    for group in streams:
        rows.append(F.normalize(emb[k : k + len(group)].mean(0), dim=-1))
        k += len(group)
    return torch.stack(rows)


def _progress(chunks: list, enabled: bool, *, total: int):
    if not enabled:
        yield from chunks
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("encoding", total=total)
        for chunk in chunks:
            yield chunk
            bar.advance(task, len(chunk))


def load_model(
    source: str | Path = "omniret-small",
    *,
    cache: bool | str | Path = True,
    overrides: list[str] | tuple[str, ...] = (),
    precision: str = "auto",
    verify: bool = True,
):
    """A ready-to-encode model: a preset name, a checkpoint directory, a YAML file, ``bridge-caption``
    or ``dual-encoder`` (the shipped baseline; or a directory written by ``omniret train-dual``).

    A preset loads the trained heads shipped with the package when there are any; otherwise its heads
    are freshly initialised and a warning says so. ``cache`` is True (default directory), False, or a path.
    ``precision`` ("auto", "fp32", "bf16") is the heads' inference precision (see ``resolve_precision``).
    ``verify`` checks a checkpoint's weights hash against its manifest (``checkpoint.verify_weights``;
    ``IntegrityError`` on a mismatch); False is the explicit escape for a checkpoint known to differ.
    """
    feature_cache = None
    if cache:
        feature_cache = FeatureCache(None if cache is True else cache)
    name = str(source)
    if name == "bridge-caption":
        from omniret.bridge import BridgeCaption

        return BridgeCaption(cache=feature_cache)
    from omniret.dual import is_dual, load_dual

    if name == "dual-encoder" and is_dual(SHIPPED / name):
        return load_dual(SHIPPED / name, cache=feature_cache, verify=verify)
    if is_dual(name):
        return load_dual(name, cache=feature_cache, verify=verify)
    if is_checkpoint(name):
        return Embedder(
            load_checkpoint(name, overrides=overrides, verify=verify),
            cache=feature_cache,
            model_id=Path(name).name,
            precision=precision,
        )
    if name in preset_names() and is_checkpoint(SHIPPED / name):
        return Embedder(
            load_checkpoint(SHIPPED / name, overrides=overrides, verify=verify),
            cache=feature_cache,
            model_id=name,
            precision=precision,
        )
    if name in preset_names() or Path(name).is_file():
        with torch.random.fork_rng():  # fresh heads are seeded: the same untrained model every time
            torch.manual_seed(0)
            model = OmniRet.build(load_config(name, overrides))
        warnings.warn(
            f"{name}: no trained heads found; projector, resampler and pooler are randomly initialised, "
            "so embeddings are not meaningful until the model is trained (omniret train)",
            stacklevel=2,
        )
        return Embedder(model, cache=feature_cache, model_id=name, precision=precision)
    raise ModelNotFoundError(
        f"{name!r} is not a preset ({', '.join(preset_names())}), 'bridge-caption', 'dual-encoder', a checkpoint directory or a YAML file"
    )
