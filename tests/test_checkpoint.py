"""omniret.checkpoint: a saved model loads back to the same embeddings, and loading verifies both
hashes of the manifest, refuses non-finite tensors by name, and never leaves a half-written file."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from omniret.api import Embedder, load_model
from omniret.checkpoint import (
    HEADS_FILE,
    MANIFEST_FILE,
    NotACheckpointError,
    head_state,
    load_checkpoint,
    nonfinite_tensors,
    save_checkpoint,
    verify_weights,
    weights_hash,
    write_atomic,
)
from omniret.errors import IntegrityError
from omniret.model import OmniRet
from omniret.version import __version__
from tests.conftest import local_config_dict, mixed_inputs, tiny_config_dict, tiny_embedder


def manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST_FILE).read_text())


def test_checkpoint_round_trip_gives_identical_embeddings(hf_dirs, media_files, tmp_path):
    emb = tiny_embedder(hf_dirs)
    emb.model.set_stage(2)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # trained-looking adapters (a fresh LoRA B is zero and would change nothing)
        for name, p in emb.model.composer.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    inputs = mixed_inputs(media_files)[:3]
    before = emb.encode(inputs)
    save_checkpoint(emb.model, tmp_path / "ckpt")
    unmerged = Embedder(load_checkpoint(tmp_path / "ckpt", merge_lora=False))
    np.testing.assert_array_equal(unmerged.encode(inputs), before)
    again = Embedder(load_checkpoint(tmp_path / "ckpt"))  # inference: adapters folded into the weights
    merged = [m for m in again.model.composer.modules() if hasattr(m, "merged_adapters")]
    assert merged and all(m.merged for m in merged)
    assert not np.array_equal(again.encode(inputs), before)  # really folded, not skipped ...
    np.testing.assert_allclose(again.encode(inputs), before, atol=1e-5)  # ... to the same embeddings
    assert again.weights_hash == emb.weights_hash == unmerged.weights_hash
    loaded = load_model(tmp_path / "ckpt", cache=False)
    np.testing.assert_allclose(loaded.encode(inputs), before, atol=1e-5)


def test_the_manifest_records_the_version_stage_and_dim(tiny_ckpt):
    info = manifest(tiny_ckpt)
    assert info["omniret_version"] == __version__ and info["stage"] == 0  # built, never trained
    assert info["dim"] == tiny_config_dict()["pooler"]["num_slices"]  # ASWP: one value per slice
    assert info["recipes"]["hash"] and set(info["recipes"]["towers"]) == {"vision", "audio"}


# ----------------------------------------------------------------------------- hashes


def test_load_verifies_and_recomputes_the_saved_hash(tiny_ckpt):
    model = load_checkpoint(tiny_ckpt, merge_lora=False)
    assert weights_hash(model) == manifest(tiny_ckpt)["weights_hash"]
    assert verify_weights(model, tiny_ckpt) == manifest(tiny_ckpt)["weights_hash"]
    data = (tiny_ckpt / HEADS_FILE).read_bytes()
    assert manifest(tiny_ckpt)["heads_sha256"] == hashlib.sha256(data).hexdigest()


def test_shipped_checkpoint_verifies_and_a_changed_byte_of_it_is_refused(tmp_path):
    """The shipped manifest records both hashes; a copy with one low mantissa bit flipped in its last
    float16 (below what the weights hash could see in an fp32 tensor) is refused by the SHA-256."""
    from omniret.api import SHIPPED

    shipped = SHIPPED / "omniret-small"
    model = load_checkpoint(shipped, merge_lora=False)
    assert weights_hash(model) == manifest(shipped)["weights_hash"]
    assert (
        manifest(shipped)["heads_sha256"] == hashlib.sha256((shipped / HEADS_FILE).read_bytes()).hexdigest()
    )
    copy = shutil.copytree(shipped, tmp_path / "copy")
    data = bytearray((copy / HEADS_FILE).read_bytes())
    data[-2] ^= 0x01
    (copy / HEADS_FILE).write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"SHA-256|weights hash"):
        load_checkpoint(copy, merge_lora=False)


def test_a_flipped_low_byte_is_refused_naming_the_file_and_both_hashes(tiny_ckpt):
    """The lowest mantissa byte of a float32: too small for the float16 weights hash, not for SHA-256."""
    data = bytearray((tiny_ckpt / HEADS_FILE).read_bytes())
    data[-4] ^= 0x01
    (tiny_ckpt / HEADS_FILE).write_bytes(bytes(data))
    recorded = manifest(tiny_ckpt)["heads_sha256"]
    with pytest.raises(IntegrityError) as err:
        load_checkpoint(tiny_ckpt)
    msg = str(err.value)
    assert str(tiny_ckpt / HEADS_FILE) in msg and recorded[:16] in msg
    assert hashlib.sha256(bytes(data)).hexdigest()[:16] in msg and "--no-verify" in msg
    model = load_checkpoint(tiny_ckpt, verify=False)  # the explicit escape
    assert model is not None


def test_changed_weights_are_refused_by_the_weights_hash(tiny_ckpt):
    """A checkpoint without heads_sha256 (saved before it existed) is still checked by weights_hash."""
    info = manifest(tiny_ckpt)
    del info["heads_sha256"]
    (tiny_ckpt / MANIFEST_FILE).write_text(json.dumps(info))
    state = load_file(tiny_ckpt / HEADS_FILE)
    key = sorted(state)[0]
    state[key] = state[key] + 1.0
    save_file(state, tiny_ckpt / HEADS_FILE)
    found = weights_hash(load_checkpoint(tiny_ckpt, verify=False, merge_lora=False))
    with pytest.raises(IntegrityError) as err:
        load_checkpoint(tiny_ckpt)
    msg = str(err.value)
    assert str(tiny_ckpt / HEADS_FILE) in msg and info["weights_hash"] in msg and found in msg
    assert found != info["weights_hash"]


def test_overrides_do_not_break_verification(tmp_path, hf_dirs):
    """The hash covers the checkpoint's own tower ids: a moved tower directory given as an override
    (or a hints override) still verifies against the manifest."""
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(local_config_dict(hf_dirs)))
    from omniret.config import load_config

    torch.manual_seed(0)
    path = save_checkpoint(OmniRet.build(load_config(cfg_path)), tmp_path / "ckpt")
    moved = tmp_path / "siglip-copy"
    shutil.copytree(hf_dirs / "siglip", moved)
    model = load_checkpoint(path, overrides=[f"towers.vision.path={moved}", "hints.image_labels=0"])
    assert model.towers["vision"].tower_id != ""  # the override took effect, and the load verified


# ----------------------------------------------------------------------------- unreadable and non-finite


def test_nan_weights_are_refused_naming_the_tensor_even_without_verification(tiny_ckpt):
    state = load_file(tiny_ckpt / HEADS_FILE)
    key = sorted(state)[3]
    state[key].view(-1)[0] = float("nan")
    save_file(state, tiny_ckpt / HEADS_FILE)
    for verify in (True, False):
        with pytest.raises(IntegrityError, match=rf"{HEADS_FILE}: tensor '{key}' holds non-finite"):
            load_checkpoint(tiny_ckpt, verify=verify)


def test_truncated_heads_and_missing_manifest_are_integrity_errors(tiny_ckpt):
    (tiny_ckpt / MANIFEST_FILE).unlink()
    with pytest.raises(IntegrityError, match=r"manifest\.json is missing.*verify=False"):
        load_checkpoint(tiny_ckpt)
    assert load_checkpoint(tiny_ckpt, verify=False) is not None
    data = (tiny_ckpt / HEADS_FILE).read_bytes()
    (tiny_ckpt / HEADS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(IntegrityError, match=r"heads\.safetensors: cannot read the weights"):
        load_checkpoint(tiny_ckpt, verify=False)


def test_a_directory_without_the_two_files_is_not_a_checkpoint(tmp_path):
    (tmp_path / HEADS_FILE).write_bytes(b"")  # config.yaml is missing
    with pytest.raises(NotACheckpointError, match=r"needs config\.yaml and heads\.safetensors") as err:
        load_checkpoint(tmp_path)
    assert isinstance(err.value, FileNotFoundError)  # callers that catch the builtin still do


def test_saving_nan_weights_is_refused_and_keeps_the_previous_checkpoint(tiny_ckpt):
    model = load_checkpoint(tiny_ckpt, merge_lora=False)
    before = (tiny_ckpt / HEADS_FILE).read_bytes(), (tiny_ckpt / MANIFEST_FILE).read_text()
    key, param = next((k, v) for k, v in head_state(model).items() if v.is_floating_point())
    param.data.view(-1)[0] = float("inf")
    with pytest.raises(IntegrityError, match=rf"refusing to save .*tensor '{key}'"):
        save_checkpoint(model, tiny_ckpt)
    assert ((tiny_ckpt / HEADS_FILE).read_bytes(), (tiny_ckpt / MANIFEST_FILE).read_text()) == before
    load_checkpoint(tiny_ckpt)  # still verifies


def test_nonfinite_tensors_are_found_by_value_not_by_an_overflowing_sum():
    """The float32 sum of two huge finite values is infinite; only real NaN and infinities count,
    and integer tensors (which cannot hold either) are never reported."""
    state = {
        "b.huge": torch.tensor([3e38, 3e38]),
        "a.nan": torch.tensor([1.0, float("nan")], dtype=torch.float16),
        "c.inf": torch.tensor([-float("inf")]),
        "d.ints": torch.tensor([1, 2, 3]),
        "e.fine": torch.zeros(4),
    }
    assert nonfinite_tensors(state) == ["a.nan", "c.inf"]


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text("old")

    def crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, crash)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    write_atomic(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
