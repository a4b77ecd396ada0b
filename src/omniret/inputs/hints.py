"""Tower text hints: the towers' own zero-shot words for a media item (``HintsConfig``).

Why: on media from sources training never saw, a caption bridge that only turns ImageNet labels
and Whisper transcripts into MiniLM sentences beat the trained heads (docs/METHOD_NOTES.md, Held-out generalisation);
the words a frozen tower already produces carry meaning that 16k training pairs cannot teach.
The composer gets those words right after the item's resampled tokens, so it can read both.

- images and video frames: the top-k ImageNet labels, computed from the cached tower tokens (the
  classifier's pooled input is the mean of those tokens, so no pixel is decoded again);
- audio and video tracks: the Whisper transcript of the speech in it ("" for non-speech), cached in
  the feature cache by content, span and settings like any tower output.
"""

from __future__ import annotations

import torch

from omniret.config import HintsConfig, MediaConfig, to_dict
from omniret.inputs.cache import FeatureCache
from omniret.inputs.features import source_id
from omniret.inputs.media import load_audio, load_video
from omniret.inputs.media.audio import cut
from omniret.towers.packaged import imagenet_names

HINT_VERSION = "hints-v1"  # bump when the hint text of the same input would change


def label_text(probs: torch.Tensor, *, top_k: int, min_prob: float) -> str | None:
    """(1000,) class probabilities -> 'tabby, tiger cat' (the top label always, the rest above min_prob)."""
    values, idx = probs.float().topk(top_k)
    names = imagenet_names()
    words = [names[i] for n, (v, i) in enumerate(zip(values.tolist(), idx.tolist(), strict=True))
             if n == 0 or v >= min_prob]  # fmt: skip
    return ", ".join(words) or None


class HintMaker:
    """Hints for the items of one modality at a time, batched like the features they come from."""

    def __init__(
        self, *, towers: dict, cfg: HintsConfig, media: MediaConfig, cache: FeatureCache | None
    ) -> None:
        self.towers, self.cfg, self.media, self.cache = towers, cfg, media, cache

    @property
    def labels_on(self) -> bool:
        return self.cfg.image_labels > 0 and hasattr(self.towers.get("vision"), "classify_tokens")

    @property
    def speech_on(self) -> bool:
        return self.cfg.transcripts and hasattr(self.towers.get("audio"), "speech_text")

    def recipe(self) -> dict:
        """What the index and checkpoint record: hint settings change every embedding of media."""

        return {"version": HINT_VERSION, **to_dict(self.cfg)}

    # ------------------------------------------------------------------ labels

    def image(self, tokens: torch.Tensor) -> str | None:
        """Tokens (N, d) of one image -> its label hint."""
        if not self.labels_on:
            return None
        probs = self.towers["vision"].classify_tokens(tokens)
        return label_text(probs, top_k=self.cfg.image_labels, min_prob=self.cfg.min_label_prob)

    def video(self, frames: torch.Tensor) -> str | None:
        """Frame tokens (T, N, d) or (T, H, W, d) -> labels of the mean frame probabilities."""
        if not self.labels_on:
            return None
        tokens = frames.flatten(1, -2) if frames.dim() == 4 else frames  # (T, N, d)
        probs = self.towers["vision"].classify_tokens(tokens).mean(0)  # (1000,)
        return label_text(probs, top_k=self.cfg.image_labels, min_prob=self.cfg.min_label_prob)

    # ------------------------------------------------------------------ speech

    def audio(self, sources: list, *, span=None) -> list[str | None]:
        """Transcript hints of audio files (or arrays), cached by content, span and settings."""
        if not self.speech_on:
            return [None] * len(sources)

        def compute(payload, name):
            wave = load_audio(payload, max_seconds=self.media.max_audio_seconds, name=name)
            return self._speech(cut(wave, span, name))

        return self._cached(sources, ("audio", str(span)), compute)

    def video_tracks(self, sources: list, *, span=None) -> list[str | None]:
        """Transcript hints of the audio tracks of videos ("" for a silent video)."""
        if not self.speech_on or self.media.video_audio == "off":
            return [None] * len(sources)

        def compute(payload, name):
            t0, t1 = span or (None, None)
            clip = load_video(payload, max_frames=1, sampling="uniform", start=t0, end=t1, with_audio=True,
                              name=name)  # fmt: skip
            return self._speech(clip.audio) if clip.audio is not None and clip.audio.size >= 1600 else ""

        return self._cached(sources, ("video-track", str(span)), compute)

    def _speech(self, wave) -> str:
        c = self.cfg
        return self.towers["audio"].speech_text(wave, no_speech_max=c.no_speech_max,
                                                min_avg_logprob=c.min_avg_logprob,
                                                max_words=c.max_transcript_words)  # fmt: skip

    def _cached(self, sources: list, what: tuple[str, ...], compute) -> list[str | None]:

        tower = self.towers["audio"]
        settings = repr(sorted(self.recipe().items()))
        out: list[str | None] = []
        for src in sources:
            h, payload, name = source_id(src)
            key = FeatureCache.key(h, tower.tower_id, HINT_VERSION, settings, *what)
            hit = self.cache.get(key) if self.cache is not None and tower.tower_id else None
            if hit is not None:
                text = bytes(hit["utf8"].tolist()[1:]).decode()
            else:
                text = compute(payload, name)
                if self.cache is not None and tower.tower_id:  # a leading 1 keeps "" a non-empty tensor
                    self.cache.put(key, {"utf8": torch.tensor([1, *text.encode()], dtype=torch.uint8)})
            out.append(text or None)
        return out
