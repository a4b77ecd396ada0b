"""Evaluation-side models: a uniformly random ranker and UniIR-style score-level fusion."""

from __future__ import annotations

import numpy as np

from omniret.inputs import OmniInput
from omniret.inputs.modality import MEDIA_NAMES


class RandomRanker:
    """Ranks every pool uniformly at random; the harness reports its exact expected metrics."""

    model_id = "random"
    weights_hash = "none"
    recipes: dict = {}  # noqa: RUF012
    dim = 0


class ScoreFusion:
    """UniIR score-level fusion (docs/METHOD_NOTES.md §11): a mixed input is the sum of its unimodal embeddings.

    Each present field (text with the instruction, image, audio, video) is embedded alone by the base
    model; the unit vectors are summed and renormalised. Under cosine similarity this is the
    alpha = 0.5 fusion of OmniRet's CLAP/ImageBind baselines.
    """

    def __init__(self, base) -> None:
        self.base = base
        self.model_id = f"fusion:{base.model_id}"
        self.weights_hash = base.weights_hash
        self.recipes = base.recipes
        self.dim = base.dim
        self.precision = getattr(base, "precision", "fp32")

    def encode(self, inputs: list[OmniInput], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        parts, owner = [], []
        for i, x in enumerate(inputs):
            for field in MEDIA_NAMES:
                if getattr(x, field) is not None:
                    parts.append(OmniInput(**{field: getattr(x, field)}, span=x.span))
                    owner.append(i)
            if x.text is not None:
                parts.append(OmniInput(text=x.text, instruction=x.instruction))
                owner.append(i)
        emb = self.base.encode(parts, batch_size=batch_size, progress=progress)
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        np.add.at(out, np.array(owner), emb)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
