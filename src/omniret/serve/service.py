"""The long-lived state of one server: the model (behind the batcher), the index, jobs, metrics.

The model loads on a background thread at start-up, so ``/healthz`` answers at once and
``/readyz`` turns ready only after the model has loaded, one real encode went through it and the
index (if there is one yet) has been opened.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from omniret.index import Index
from omniret.inputs import OmniInput
from omniret.models import RetrievalModel, load_model
from omniret.serve.batcher import Batcher
from omniret.serve.jobs import Jobs
from omniret.serve.metrics import Metrics
from omniret.serve.settings import ServeSettings


class BatchedModel:
    """The loaded model with ``encode`` routed through the batcher (the index calls it for queries
    and for ingest); every other attribute is the model's own."""

    def __init__(self, model: RetrievalModel, batcher: Batcher) -> None:
        self._model, self._batcher = model, batcher

    def encode(self, inputs: list[OmniInput], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        return self._batcher.run(inputs)

    def __getattr__(self, name: str):
        return getattr(self._model, name)


class Service:
    def __init__(self, settings: ServeSettings, *, model: RetrievalModel | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.model: RetrievalModel | None = model
        self.batched: BatchedModel | None = None
        self.index: Index | None = None
        self.error: str | None = None  # why the model could not load (readyz says it)
        self.ready = threading.Event()
        self.jobs = Jobs(self)
        self._batcher: Batcher | None = None
        self._loader = threading.Thread(target=self._load, name="omniret-load", daemon=True)

    def start(self) -> None:
        self._loader.start()

    def close(self) -> None:
        self.jobs.close()
        if self._batcher is not None:
            self._batcher.close()

    def _load(self) -> None:
        try:
            if self.model is None:
                meta_index = Index(self.settings.db, storage_options=self.settings.storage_options)
                spec = self.settings.model or _index_model(meta_index) or "omniret-small"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.model = load_model(spec)
            if not isinstance(self.model, RetrievalModel):
                raise TypeError(f"model {getattr(self.model, 'model_id', '?')} cannot embed")
            s = self.settings
            self._batcher = Batcher(lambda xs: self.model.encode(xs, batch_size=s.max_batch),
                                    window=s.batch_window_ms / 1000, max_batch=s.max_batch,
                                    on_batch=self.metrics.batch)  # fmt: skip
            self.batched = BatchedModel(self.model, self._batcher)
            self.index = Index(s.db, model=self.batched, storage_options=s.storage_options)
            if s.warmup:
                self._batcher.run([OmniInput(text="warm-up")])
                self.index.store.table()  # opens LanceDB (its import is ~1.4 s): ready means ready to search
            self.ready.set()
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"

    def encode_async(self, inputs: list[OmniInput]):
        """A concurrent Future of the batched encode (the caller wraps it for asyncio)."""
        return self._batcher.submit(inputs)


def _index_model(ix: Index) -> str | None:
    try:
        meta = ix.store.sidecar()
    except Exception:
        return None
    return meta.get("model_source") or meta.get("model_id")
