"""The packaged pretrained towers of ``omniret-small``: EfficientNet-Lite0 and Whisper tiny.en (CTranslate2)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import torch
import torch.nn.functional as F

from omniret.assets import resolve
from omniret.config import TowerConfig
from omniret.inputs.modality import Family
from omniret.inputs.recipes import AudioRecipe, ImageRecipe
from omniret.towers.base import TOWERS, Tower
from omniret.towers.efficientnet import EfficientNetLite0
from omniret.towers.standins import stand_in


@cache
def imagenet_names() -> tuple[str, ...]:
    """The first WordNet lemma of each ImageNet-1k class, in the order of EfficientNet's outputs
    (``imagenet_classes.tsv`` beside this file)."""
    text = resources.files("omniret.towers").joinpath("imagenet_classes.tsv").read_text()
    rows = [line.split("\t")[1] for line in text.splitlines() if line and not line.startswith("#")]
    return tuple(row.split(",")[0].strip() for row in rows)


class EfficientNetTower(Tower):
    """Last EfficientNet-Lite0 feature map as tokens: (B, 3, S, S) in [-1, 1] -> (B, (S/32)^2, 1280)."""

    def __init__(self, *, weights: Path | None, image_size: int = 224) -> None:
        super().__init__()
        self.net = EfficientNetLite0()
        if weights is not None:
            self.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.modality, self.dim = Family.VISION, 1280
        self.grid = (image_size // 32, image_size // 32)
        self.recipe = ImageRecipe(size=image_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        fmap = self.net.feature_map(x)  # (B, 1280, h, w)
        return fmap.flatten(2).transpose(1, 2), None  # (B, h*w, 1280)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet probabilities (B, 1000) (used by the caption bridge)."""
        return self.net(x).softmax(dim=-1)

    @torch.no_grad()
    def classify_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """ImageNet probabilities from this tower's own tokens: (..., N, 1280) -> (..., 1000).

        The network's pooled feature is the mean of its last feature map, i.e. of these tokens, so
        labels come from cached features without decoding or running the CNN again.
        """
        return self.net._fc(tokens.float().mean(-2)).softmax(dim=-1)


class WhisperCT2Tower(Tower):
    """Whisper encoder states (50 tokens/s) from a CTranslate2 model, on the clip's own length.

    The encoder accepts mel inputs shorter than 30 s, so a 3 s clip costs 150 tokens, not 1500;
    longer audio is encoded in 30 s windows and the states are concatenated. Not differentiable
    (CTranslate2 runs outside torch), which is fine: towers are frozen.
    """

    WINDOW = 3000  # mel frames per encoder call (30 s)

    def __init__(self, *, path: Path, threads: int = 2, compute_type: str = "int8") -> None:
        super().__init__()
        from faster_whisper import WhisperModel

        self.whisper = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=threads)
        self.modality, self.recipe = Family.AUDIO, AudioRecipe(n_mels=self.whisper.model.n_mels)
        self.dim = self._probe_dim()

    def _probe_dim(self) -> int:
        return int(self._encode(torch.zeros(self.whisper.model.n_mels, 4)).shape[-1])

    def _encode(self, mel: torch.Tensor) -> torch.Tensor:
        """(n_mels, F) with F even -> (F/2, d)."""
        import ctranslate2
        import numpy as np

        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].numpy(), dtype=np.float32))
        return torch.from_numpy(np.array(self.whisper.model.encode(view, to_cpu=True))[0])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        n_frames = lengths.tolist() if lengths is not None else [x.shape[-1]] * x.shape[0]
        rows = []
        for mel, n in zip(x, n_frames, strict=True):
            n = max(2, int(n) + int(n) % 2)  # the encoder halves the frame rate: keep F even
            mel = F.pad(mel, (0, max(0, n - mel.shape[-1])))[:, :n]
            rows.append(
                torch.cat([self._encode(mel[:, s : s + self.WINDOW]) for s in range(0, n, self.WINDOW)])
            )
        width = max(r.shape[0] for r in rows)
        tokens = torch.zeros(len(rows), width, self.dim)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, r in enumerate(rows):
            tokens[i, : r.shape[0]], mask[i, : r.shape[0]] = r, True
        return tokens, mask

    # Deterministic decoding for every transcript. Temperature 0 only: faster-whisper's fallback re-decodes
    # hard (non-speech) audio by *sampling*, which would make transcripts, and every baseline or index
    # built on them, non-deterministic; no VAD and no conditioning on earlier text, so a window's words do
    # not depend on what came before it.
    DECODE = MappingProxyType(
        dict(beam_size=1, vad_filter=False, temperature=0.0, condition_on_previous_text=False)
    )
    MAX_COMPRESSION = 2.4  # gzip ratio above which a segment is a repetition loop (Whisper's own test)

    @classmethod
    def confident(cls, segment, *, no_speech_max: float = 0.6, min_avg_logprob: float = -1.0) -> bool:
        """Whether Whisper itself believes a decoded segment: its no-speech probability, mean token
        log-probability and repetition (compression) tests. tiny.en hallucinates on sounds and silence
        ("Ha ha ha ...", "Thank you."); these are the segments that fail them."""
        return (segment.no_speech_prob <= no_speech_max and segment.avg_logprob >= min_avg_logprob
                and segment.compression_ratio <= cls.MAX_COMPRESSION)  # fmt: skip

    def speech_text(self, wave, *, no_speech_max: float = 0.6, min_avg_logprob: float = -1.0,
                    max_words: int = 40) -> str:  # fmt: skip
        """The words of the speech in a wave, or "" for non-speech (a hint, not a caption).

        Segments Whisper is unsure of (``confident``) are dropped, and decoding is capped by the clip's
        length so a hallucination loop cannot run long.
        """
        seconds = wave.size / AudioRecipe.sample_rate
        segments, _ = self.whisper.transcribe(
            wave, language="en", without_timestamps=True,
            max_new_tokens=int(min(200, 12 + 6 * min(seconds, 30.0))), **self.DECODE,
        )  # fmt: skip
        kept = [s.text.strip() for s in segments
                if self.confident(s, no_speech_max=no_speech_max, min_avg_logprob=min_avg_logprob)]  # fmt: skip
        words = " ".join(kept).replace("<", " ").replace(">", " ").split()
        return " ".join(words[:max_words])

    def speech_cues(self, wave, *, language: str | None = "en", no_speech_max: float = 0.6,
                    min_avg_logprob: float = -1.0) -> list[tuple[float, float, str]]:  # fmt: skip
        """``(start, end, text)`` of each segment of speech in a 16 kHz mono wave, seconds from its start.

        Unlike ``speech_text`` timestamps are decoded, so each phrase can be placed in the windows it
        falls in; the same segments are dropped (``confident``). Times come from word alignment: a
        segment's own timestamp tokens are coarse (tiny.en starts a phrase after 2 s of silence at 0.0 s,
        since Whisper caps the first timestamp at 1 s); its first and last words' times are within tenths.
        They are clamped to the wave, as the last may point past its end.

        Voice activity detection (faster-whisper's bundled Silero VAD, ONNX, deterministic) cuts silence
        out first: without it tiny.en loses a whole phrase after long silence (a sentence after 12 s of
        silence came out as nothing, after 4 s with faint noise too), and it hears words in non-speech.
        """
        seconds = wave.size / AudioRecipe.sample_rate
        segments, _ = self.whisper.transcribe(wave, language=language, word_timestamps=True,
                                              **{**self.DECODE, "vad_filter": True})  # fmt: skip
        cues = []
        for s in segments:
            text = s.text.strip()
            if text and self.confident(s, no_speech_max=no_speech_max, min_avg_logprob=min_avg_logprob):
                start = min(max(float(s.start), 0.0), seconds)
                cues.append((start, min(max(float(s.end), start), seconds), text))
        return cues

    def transcribe(self, wave, *, language: str = "en") -> str:
        """Speech recognition of a 16 kHz mono wave (greedy, deterministic: ``DECODE``), unfiltered."""
        segments, _ = self.whisper.transcribe(wave, language=language, **self.DECODE)
        return " ".join(s.text.strip() for s in segments).strip()


@TOWERS.register("efficientnet-lite0")
def _build_efficientnet(cfg: TowerConfig) -> Tower:
    weights = resolve(cfg.path, what="towers.vision.path") if cfg.path else None
    return EfficientNetTower(weights=weights, image_size=cfg.image_size)


@TOWERS.register("whisper-tiny-en")
def _build_whisper_ct2(cfg: TowerConfig) -> Tower:
    if cfg.path is None:  # CTranslate2 models cannot be randomly initialised: same-shape stand-in
        return stand_in(cfg)
    return WhisperCT2Tower(path=resolve(cfg.path, what="towers.audio.path"))
