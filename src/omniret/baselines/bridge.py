"""``bridge-caption``: the zero-training "caption, then text retrieval" baseline (OmniRet Table 4).

Every medium becomes weighted text in all-MiniLM-L6-v2's space: an image becomes its top-k
ImageNet class names weighted by probability (ConSE), speech becomes its Whisper transcript, a
video both (mean frame probabilities + the transcript of its track), and a composed input the
concatenation of its parts. No parameter is trained; instructions are ignored (MiniLM is not
instruction-tuned).
"""

from __future__ import annotations

import itertools
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F

from omniret._quiet import quiet_transformers
from omniret.assets import asset_path
from omniret.inputs import OmniInput
from omniret.inputs.cache import FeatureCache
from omniret.inputs.features import source_id
from omniret.inputs.media import load_audio, load_image, load_video, to_pixels
from omniret.inputs.recipes import ImageRecipe
from omniret.towers.packaged import EfficientNetTower, WhisperCT2Tower, imagenet_names

MAX_CAPTIONS = 10


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (masked mean pooling, L2-normalised), from the packaged asset."""

    def __init__(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        quiet_transformers()

        path = str(asset_path("minilm-l6"))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()

    @torch.no_grad()
    def __call__(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch_size):
            batch = self.tokenizer(texts[i : i + batch_size], padding=True, truncation=True, max_length=256,
                                   return_tensors="pt")  # fmt: skip
            hidden = self.model(**batch).last_hidden_state  # (b, T, 384)
            w = batch["attention_mask"][..., None].float()
            out.append(F.normalize((hidden * w).sum(1) / w.sum(1).clamp(min=1), dim=-1))
        return torch.cat(out) if out else torch.zeros(0, 384)


class BridgeCaption:
    """Same interface as ``Embedder``: ``encode(inputs) -> (n, 384)``."""

    model_id = "bridge-caption"
    dim = 384

    def __init__(self, *, cache=None, top_k: int = 5, template: str = "a photo of a {}") -> None:
        self.cache, self.top_k, self.template = cache, top_k, template
        self.names = imagenet_names()
        self.recipe = ImageRecipe(size=224)
        self.text = MiniLM()
        self.recipes = {
            "towers": {"vision": f"efficientnet-lite0 top-{top_k}", "audio": "whisper-tiny-en asr"}
        }

    @cached_property
    def vision(self):

        return EfficientNetTower(weights=asset_path("efficientnet-lite0")).freeze()

    @cached_property
    def whisper(self):

        return WhisperCT2Tower(path=asset_path("whisper-tiny-en"))

    @property
    def weights_hash(self) -> str:
        return "bridge-caption-v1"

    def encode(self, inputs: list[OmniInput], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for i, x in enumerate(inputs):
            captions = self.captions(x)
            emb = self.text([c for c, _ in captions])
            w = torch.tensor([w for _, w in captions])[:, None]
            out[i] = F.normalize((emb * w).sum(0), dim=-1).numpy()
        return out

    def captions(self, x: OmniInput) -> list[tuple[str, float]]:
        """Weighted captions of one input: the product of its parts' alternatives, top MAX_CAPTIONS."""
        parts: list[list[tuple[str, float]]] = []
        if x.image is not None:
            parts.append(
                self._classes(self._cached(x.image, "conse", lambda: self._probs([load_image(x.image)])))
            )
        if x.audio is not None:
            parts.append([(self._asr(x.audio, x.span), 1.0)])
        if x.video is not None:
            t0, t1 = x.span or (None, None)
            clip = None

            def frames():
                nonlocal clip
                clip = clip or load_video(x.video, start=t0, end=t1)
                return self._probs(clip.frames)

            parts.append(self._classes(self._cached(x.video, f"conse-video-{x.span}", frames)))
            text = self._cached_text(
                x.video, f"asr-video-{x.span}", lambda: self._video_asr(clip, x.video, t0, t1)
            )
            if text:
                parts.append([(text, 1.0)])
        if x.text:
            parts.append([(x.text, 1.0)])
        combos = [
            (" ".join(t for t, _ in c if t), float(np.prod([w for _, w in c])))
            for c in itertools.product(*parts)
        ]
        combos = sorted(combos, key=lambda c: -c[1])[:MAX_CAPTIONS]
        total = sum(w for _, w in combos)
        return [(t, w / total) for t, w in combos]

    def _video_asr(self, clip, src, t0, t1) -> str:
        clip = clip or load_video(src, start=t0, end=t1)
        return (
            self.whisper.transcribe(clip.audio) if clip.audio is not None and clip.audio.size >= 1600 else ""
        )

    def _asr(self, src, span) -> str:
        return self._cached_text(
            src, f"asr-{span}", lambda: self.whisper.transcribe(load_audio(src, span=span))
        )

    def _cached(self, src, what: str, compute) -> torch.Tensor:
        """Bridge outputs (class probabilities) cached like tower features: decode and classify once."""
        if self.cache is None:
            return compute()
        key = self._key(src, what)
        hit = self.cache.get(key)
        if hit is not None:
            return hit["value"].float()
        value = compute()
        self.cache.put(key, {"value": value})
        return value.half().float()

    def _cached_text(self, src, what: str, compute) -> str:
        """Transcripts cached as UTF-8 bytes in the same store."""
        if self.cache is None:
            return compute()
        key = self._key(src, what)
        hit = self.cache.get(key)
        if hit is not None:
            return bytes(hit["utf8"].tolist()).decode()
        text = compute()
        self.cache.put(key, {"utf8": torch.tensor(list(text.encode()), dtype=torch.uint8)})
        return text

    @staticmethod
    def _key(src, what: str) -> str:

        return FeatureCache.key(source_id(src)[0], "bridge-caption-v1", what)

    @torch.no_grad()
    def _probs(self, images: list) -> torch.Tensor:
        pixels = torch.stack([to_pixels(img, self.recipe) for img in images])
        return self.vision.classify(pixels).mean(0)  # (1000,)

    def _classes(self, probs: torch.Tensor) -> list[tuple[str, float]]:
        p, idx = probs.topk(self.top_k)
        return [
            (self.template.format(self.names[i]), float(w))
            for w, i in zip(p / p.sum(), idx.tolist(), strict=True)
        ]
