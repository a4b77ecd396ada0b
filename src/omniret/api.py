"""The encode API: ``load_model(name_or_dir).encode([OmniInput(...), ...]) -> (n, dim) float32``.

The names and the loading live in ``omniret.models`` (one registry for every model); this module is
the stable import path users and the README use."""

from __future__ import annotations

from omniret.embedder import Embedder, resolve_precision
from omniret.models import SHIPPED, ModelInfo, ModelNotFoundError, RetrievalModel, list_models, load_model

__all__ = ["SHIPPED", "Embedder", "ModelInfo", "ModelNotFoundError", "RetrievalModel", "list_models", "load_model",
           "resolve_precision"]  # fmt: skip
