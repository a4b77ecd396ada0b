"""The model registry: every loadable name listed, one interface, one error for unknown names."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.config import preset_names
from omniret.errors import InputError
from omniret.index import Index
from omniret.inputs import OmniInput
from omniret.models import ModelNotFoundError, RetrievalModel, list_models, load_model


def test_list_models_names_every_preset_and_baseline():
    names = [m.name for m in list_models()]
    assert names[: len(preset_names())] == preset_names()
    assert {"bridge-caption", "dual-encoder", "random", "fusion:<model>"} <= set(names)
    shipped = {m.name: m.trained for m in list_models() if m.kind == "omniret"}
    assert shipped["omniret-small"] is True  # heads ship in the wheel
    assert shipped["omniret-paper"] is False


def test_random_is_a_ranker_not_an_encoder():
    model = load_model("random")
    assert isinstance(model, RandomRanker)
    assert not isinstance(model, RetrievalModel)  # no encode: the index refuses it


def test_fusion_wraps_any_spec_and_keeps_its_identity():
    base = load_model("dual-encoder", cache=False)
    fused = load_model("fusion:dual-encoder", cache=False)
    assert isinstance(fused, ScoreFusion) and isinstance(fused, RetrievalModel)
    assert fused.model_id == "fusion:dual-encoder"
    assert (fused.dim, fused.weights_hash) == (base.dim, base.weights_hash)
    # a text-only input has one part, so fusion gives the base model's vector exactly
    x = [OmniInput(text="a red bicycle")]
    np.testing.assert_allclose(fused.encode(x), base.encode(x), atol=1e-6)


def test_unknown_name_lists_what_is_known():
    with pytest.raises(ModelNotFoundError, match="no-such-model") as err:
        load_model("no-such-model")
    for name in ("omniret-small", "bridge-caption", "dual-encoder", "random"):
        assert name in str(err.value)
    with pytest.raises(ModelNotFoundError, match="nope"):
        load_model("fusion:nope")


def test_index_refuses_a_model_that_cannot_embed(tmp_path):
    ix = Index(tmp_path / "db", model="random")
    with pytest.raises(InputError, match="cannot embed"):
        _ = ix.model
