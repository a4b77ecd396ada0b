"""A model whose embeddings are written down, so every ranking in the evaluation tests is by hand."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from omniret.inputs.media import EmptyMediaError

KS = [1, 5, 10]


class FakeModel:
    """Embeds 'vN' texts (and images named vN.png) as fixed vectors, so rankings can be written down."""

    model_id, weights_hash, recipes, dim = "fake", "0", {}, 4
    VECS: ClassVar = {"v0": [1, 0, 0, 0], "v1": [0.8, 0.6, 0, 0], "v2": [0, 1, 0, 0], "v3": [0, 0, 1, 0]}

    def encode(self, inputs, *, batch_size=16, progress=False):
        rows = []
        for x in inputs:
            key = x.text or Path(x.image).stem
            if x.image is not None and not Path(x.image).exists():
                raise EmptyMediaError(str(x.image), "file not found")
            rows.append(np.array(self.VECS[key.split()[-1]], dtype=np.float32))
        rows = np.stack(rows)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)
