"""``omniret eval mbeir --engine ray``: pools and queries embedded by a Ray actor pool.

M-BEIR's union pool has 5.6M candidates: one process cannot embed it in useful time. Each actor loads
the model once and runs the harness's own ``encode_skipping`` on its share (so bad media are skipped and
listed exactly as in one process); the driver keeps the order, the candidate cache and the scoring.
"""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np

from omniret.eval.harness import encode_skipping
from omniret.index.ray_engine import start
from omniret.models import load_model

CHUNK_BATCHES = 8  # encode batches per Ray task: big enough to amortise a task, small enough to balance


class PoolEncoder:
    """A Ray actor: the model loaded once; pickled inputs in, pickled embeddings (or the reason) out."""

    def __init__(self, *, spec: str, verify: bool, threads: int, batch_size: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = load_model(spec, verify=verify)
        self.batch_size = batch_size

    def __call__(self, batch):
        import pyarrow as pa

        inputs = [pickle.loads(b) for b in batch["input"].to_pylist()]
        emb, errors = encode_skipping(self.model, inputs, batch_size=self.batch_size)
        return pa.table({"i": batch["i"], "vector": [pickle.dumps(e, protocol=5) for e in emb],
                         "error": [errors.get(k) for k in range(len(inputs))]})  # fmt: skip


class RayEncodedModel:
    """``model`` whose ``encode_skipping`` runs in the actor pool; every other attribute is the model's."""

    def __init__(self, model, *, spec: str, verify: bool = True, address: str | None = None, actors: int = 1,
                 cpus_per_actor: float = 1.0) -> None:  # fmt: skip
        self.model, self.spec, self.verify = model, spec, verify
        self.address, self.actors, self.cpus_per_actor = address, actors, cpus_per_actor

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def encode_skipping(self, inputs: list, *, batch_size: int = 16, progress: bool = False):
        """(embeddings in input order, {index: reason}), as ``harness.encode_skipping``."""
        if not inputs:
            return np.zeros((0, self.model.dim), np.float32), {}
        start(self.address)
        import ray

        chunk = batch_size * CHUNK_BATCHES
        items = [{"i": i, "input": pickle.dumps(x, protocol=5)} for i, x in enumerate(inputs)]
        ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / chunk)))
        ds = ds.map_batches(
            PoolEncoder, batch_size=chunk, batch_format="pyarrow", num_cpus=self.cpus_per_actor,
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            fn_constructor_kwargs={"spec": self.spec, "verify": self.verify, "threads": int(self.cpus_per_actor),
                                   "batch_size": batch_size},
        )  # fmt: skip
        out, errors = None, {}
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for i, vec, err in zip(block["i"].to_pylist(), block["vector"].to_pylist(), block["error"].to_pylist(),
                                   strict=True):  # fmt: skip
                v = pickle.loads(vec)
                if out is None:
                    out = np.zeros((len(inputs), *v.shape), np.float32)
                out[i] = v
                if err is not None:
                    errors[i] = err
        return out, errors
