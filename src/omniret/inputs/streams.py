"""``OmniInput`` -> the samples the model reads, and the fusion of their embeddings afterwards.

One input becomes one ``Sample`` per stream: one for text, images, audio and (with ``video_audio``
"early" or "off") video; two for a video whose sound track is fused late (Omni-Embed-Nemotron), which
``fuse_streams`` averages back into one unit vector. Media go through the frozen towers once per
chunk and field (``FeatureExtractor``, cached by content), then get their hint words (``HintMaker``).
The encode API, the trainer and the warm start all build their samples here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from omniret.config import HintsConfig, MediaConfig
from omniret.inputs.cache import FeatureCache
from omniret.inputs.features import FeatureExtractor
from omniret.inputs.hints import HintMaker
from omniret.inputs.media.audio import SAMPLE_RATE, AudioSpan
from omniret.inputs.modality import MEDIA_NAMES
from omniret.inputs.omni import OmniInput
from omniret.inputs.sample import Media, Sample

FIELDS = MEDIA_NAMES


class InputPipeline:
    """Towers + media recipe + hints + feature cache: ``samples(chunk)`` for a list of inputs."""

    def __init__(self, *, towers: dict, media: MediaConfig, hints: HintsConfig,
                 cache: FeatureCache | None = None) -> None:  # fmt: skip
        self.media, self.hints_cfg = media, hints
        self.features = FeatureExtractor(dict(towers), media, cache)
        self.hints = HintMaker(towers=dict(towers), cfg=hints, media=media, cache=cache)

    def samples(self, chunk: list[OmniInput]) -> list[list[Sample]]:
        """Media -> cached tower tokens -> model samples (one field of the chunk at a time, batched)."""
        feats: dict[str, list] = {}
        for field in FIELDS:
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
        if not self.hints_cfg.enabled:
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
        if track is None or self.media.video_audio == "off":
            return [Sample(text=x.text, media=[*media, video], instruction=x.instruction)]
        track_media = Media("audio", track, is_features=True, hint=track_hint)
        if self.media.video_audio == "early":  # one sequence: <video> <audio> text
            return [Sample(text=x.text, media=[*media, video, track_media], instruction=x.instruction)]
        return [  # late (Omni-Embed-Nemotron): separate streams, fused after pooling
            Sample(text=x.text, media=[*media, video], instruction=x.instruction),
            Sample(text=x.text, media=[*media, track_media], instruction=x.instruction),
        ]


def fuse_streams(emb: torch.Tensor, streams: list[list[Sample]]) -> torch.Tensor:
    """Late fusion: average each input's stream embeddings (unit vectors) and renormalise."""
    rows, k = [], 0
    for group in streams:
        rows.append(F.normalize(emb[k : k + len(group)].mean(0), dim=-1))
        k += len(group)
    return torch.stack(rows)


def audio_size(x: OmniInput) -> float:
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
