"""Every model omniret can load, behind one interface and one registry.

The CLI, the encode API, the evaluation harness, the index and the server all name models the same
way (``list_models()`` says which names exist) and get back an object with the same small surface:
``model_id``, ``dim``, ``weights_hash``, ``recipes`` and ``encode(inputs) -> (n, dim)`` unit rows.
A model spec is one of: a preset name (its shipped trained heads when there are any), a checkpoint
directory, a model YAML file, a dual-encoder directory, or a baseline name (``bridge-caption``,
``dual-encoder``, ``random``, ``fusion:<spec>``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from omniret.baselines.bridge import BridgeCaption
from omniret.baselines.dual import is_dual, load_dual
from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.checkpoint import is_checkpoint, load_checkpoint
from omniret.config import load_config, preset_names
from omniret.embedder import Embedder
from omniret.errors import InputError
from omniret.inputs import OmniInput
from omniret.inputs.cache import FeatureCache
from omniret.model import OmniRet
from omniret.registry import Registry

SHIPPED = Path(__file__).parent / "weights"  # trained heads that ship with the package, one dir per preset


@runtime_checkable
class RetrievalModel(Protocol):
    """What every loaded model offers (``Embedder``, ``DualEncoder``, ``BridgeCaption``, ``ScoreFusion``)."""

    model_id: str
    dim: int
    weights_hash: str
    recipes: dict

    def encode(
        self, inputs: list[OmniInput], *, batch_size: int = 16, progress: bool = False
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelInfo:
    """One loadable name, described without loading anything."""

    name: str
    kind: str  # "omniret" (the paper's model), "baseline" (encodes) or "ranker" (evaluation only)
    trained: bool  # False: heads are randomly initialised (a preset without shipped weights)
    composes: bool  # a mixed input goes through one model as one sequence (else summed parts or n/a)
    description: str


class ModelNotFoundError(InputError, FileNotFoundError):
    """``load_model`` got a name that is no preset, baseline, checkpoint or YAML file."""


@dataclass(frozen=True)
class _Baseline:
    info: ModelInfo
    load: Callable[..., object]  # (cache, verify) -> model


BASELINES: Registry[_Baseline] = Registry("baseline")


def _baseline(name: str, *, kind: str, composes: bool, description: str):
    def deco(fn):
        BASELINES.register(name)(_Baseline(ModelInfo(name, kind, True, composes, description), fn))
        return fn

    return deco


@_baseline("bridge-caption", kind="baseline", composes=False,
           description="zero-training caption bridge: media -> ImageNet labels / Whisper transcript -> MiniLM")  # fmt: skip
def _bridge(cache, verify):
    return BridgeCaption(cache=cache)


@_baseline("dual-encoder", kind="baseline", composes=False,
           description="CLIP-like dual encoder: pooled tower features -> MLP aligned to MiniLM (shipped)")  # fmt: skip
def _dual(cache, verify):
    if not is_dual(SHIPPED / "dual-encoder"):
        raise ModelNotFoundError(f"the shipped dual encoder is missing from {SHIPPED / 'dual-encoder'}")
    return load_dual(SHIPPED / "dual-encoder", cache=cache, verify=verify)


@_baseline("random", kind="ranker", composes=False,
           description="uniformly random ranking (evaluation only: its expected metrics are exact)")  # fmt: skip
def _random(cache, verify):
    return RandomRanker()


def list_models() -> list[ModelInfo]:
    """The names ``load_model`` accepts without a path: presets, then baselines (``fusion:<name>``
    wraps any of them)."""
    out = []
    for name in preset_names():
        trained = is_checkpoint(SHIPPED / name)
        what = "shipped trained heads" if trained else "no shipped heads: random until trained"
        out.append(ModelInfo(name, "omniret", trained, True, f"OmniRet preset ({what})"))
    out += [BASELINES.get(n).info for n in BASELINES.names()]
    out.append(ModelInfo("fusion:<model>", "baseline", True, False,
                         "UniIR score fusion: a mixed input is the sum of its parts' embeddings by <model>"))  # fmt: skip
    return out


def load_model(
    source: str | Path = "omniret-small",
    *,
    cache: bool | str | Path = True,
    overrides: list[str] | tuple[str, ...] = (),
    precision: str = "auto",
    verify: bool = True,
) -> RetrievalModel:
    """A ready-to-encode model for a spec (see the module docstring and ``list_models``).

    A preset loads the trained heads shipped with the package when there are any; otherwise its heads
    are freshly initialised and a warning says so. ``cache`` is True (default directory), False, or a path.
    ``precision`` ("auto", "fp32", "bf16") is the heads' inference precision (see ``resolve_precision``).
    ``verify`` checks a checkpoint's weights hash against its manifest (``checkpoint.verify_weights``;
    ``IntegrityError`` on a mismatch); False is the explicit escape for a checkpoint known to differ.
    """
    name = str(source)
    kwargs = dict(cache=cache, overrides=overrides, precision=precision, verify=verify)
    if name.startswith("fusion:"):
        return ScoreFusion(load_model(name[len("fusion:") :], **kwargs))
    feature_cache = None
    if cache:
        feature_cache = FeatureCache(None if cache is True else cache)
    if name in BASELINES:
        return BASELINES.get(name).load(feature_cache, verify)
    if is_dual(name):
        return load_dual(name, cache=feature_cache, verify=verify)
    if name in preset_names() and is_checkpoint(SHIPPED / name):
        name, model_id = str(SHIPPED / name), name
    else:
        model_id = Path(name).name
    if is_checkpoint(name):
        model = load_checkpoint(name, overrides=overrides, verify=verify)
        return Embedder(model, cache=feature_cache, model_id=model_id, precision=precision)
    if name in preset_names() or Path(name).is_file():
        return Embedder(_untrained(name, overrides), cache=feature_cache, model_id=name, precision=precision)
    known = ", ".join(m.name for m in list_models())
    raise ModelNotFoundError(
        f"{name!r} is not a preset or a known model ({known}), a checkpoint directory or a YAML file"
    )


def _untrained(name: str, overrides) -> OmniRet:
    with torch.random.fork_rng():  # fresh heads are seeded: the same untrained model every time
        torch.manual_seed(0)
        model = OmniRet.build(load_config(name, overrides))
    warnings.warn(
        f"{name}: no trained heads found; projector, resampler and pooler are randomly initialised, "
        "so embeddings are not meaningful until the model is trained (omniret train)",
        stacklevel=3,
    )
    return model
