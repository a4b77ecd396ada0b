"""omniret.baselines.dual: the dual-encoder baseline trains on pooled real-tower features, saves, loads
through load_model and verifies its heads. (Its training rules are tested in tests/train/test_dual.py.)"""

from __future__ import annotations

import json

import numpy as np

from omniret import OmniInput, load_model
from omniret.baselines.dual import is_dual
from omniret.train.data import read_pairs
from omniret.train.dual import split_holdout, train_dual, usable
from tests.conftest import COLOURS


def test_dual_encoder_learns_colour_names_and_round_trips(tmp_path, dataset):
    root, _ = dataset
    pairs_file = root / "train" / "pairs.jsonl"
    out = tmp_path / "dual"
    meta = train_dual(
        [str(pairs_file)], out, steps=60, batch=8, eval_every=10, cache=None, log=lambda *_: None
    )
    assert is_dual(out) and (out / "heads.safetensors").is_file()
    saved = json.loads((out / "dual_encoder.json").read_text())
    assert saved["best_step"] == meta["best_step"] and saved["recipes"]["towers"]["vision"]["id"]
    train, _held = split_holdout([p for p in read_pairs(pairs_file) if usable(p)])
    trained_colours = sorted({p.id for p in train} & set(COLOURS))
    model = load_model(str(out), cache=False)
    texts = model.encode([OmniInput(text=c) for c in trained_colours])
    images = model.encode([OmniInput(image=root / f"img/{c}0.png") for c in trained_colours])
    assert texts.shape == (len(trained_colours), 384)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    hits = (texts @ images.T).argmax(1) == np.arange(len(trained_colours))
    assert hits.sum() >= len(trained_colours) - 1  # chance would be about one hit
    # A composed input is the renormalised sum of its parts (score fusion).
    both = model.encode([OmniInput(text=trained_colours[0], image=root / f"img/{trained_colours[0]}0.png")])[
        0
    ]
    expect = texts[0] + images[0]
    np.testing.assert_allclose(both, expect / np.linalg.norm(expect), atol=1e-5)


def _shipped_copy(tmp_path):
    import shutil

    from omniret.api import SHIPPED

    return shutil.copytree(SHIPPED / "dual-encoder", tmp_path / "dual")


def test_the_dual_encoder_records_and_verifies_its_heads_hash(tmp_path):
    import hashlib

    import pytest

    from omniret.errors import IntegrityError

    out = _shipped_copy(tmp_path)
    meta = json.loads((out / "dual_encoder.json").read_text())
    assert meta["heads_sha256"] == hashlib.sha256((out / "heads.safetensors").read_bytes()).hexdigest()
    data = bytearray((out / "heads.safetensors").read_bytes())
    data[-2] ^= 0x01  # one low mantissa bit of the last float16
    (out / "heads.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as err:
        load_model(str(out), cache=False)
    assert str(out / "heads.safetensors") in str(err.value) and meta["heads_sha256"][:16] in str(err.value)
    assert "dual_encoder.json" in str(err.value)
    assert load_model(str(out), cache=False, verify=False).dim == 384  # the explicit escape


def test_the_dual_encoder_refuses_nan_heads_and_a_broken_description(tmp_path):
    import pytest
    import torch
    from safetensors.torch import load_file, save_file

    from omniret.baselines.dual import build_heads, save_dual
    from omniret.errors import IntegrityError

    out = _shipped_copy(tmp_path)
    state = load_file(out / "heads.safetensors")
    name = sorted(state)[0]
    state[name][0] = float("nan")
    save_file(state, out / "heads.safetensors")
    with pytest.raises(IntegrityError, match=f"tensor '{name}'.*non-finite"):
        load_model(str(out), cache=False, verify=False)  # refused even without verification
    (out / "dual_encoder.json").write_text("{not json")
    with pytest.raises(IntegrityError, match=r"dual_encoder\.json: not a dual-encoder description"):
        load_model(str(out), cache=False)
    heads = build_heads({"vision": 4}, dim=4, hidden=4)
    with torch.no_grad():
        next(heads.parameters()).fill_(float("inf"))
    with pytest.raises(IntegrityError, match="not saved"):
        save_dual(heads, tmp_path / "new", {"dim": 4})
    assert not (tmp_path / "new" / "heads.safetensors").exists()
