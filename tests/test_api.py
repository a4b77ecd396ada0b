import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from omniret import OmniInput
from omniret.api import Embedder, load_model
from omniret.checkpoint import load_checkpoint, save_checkpoint
from omniret.config import ModelConfig, from_dict
from omniret.inputs.cache import FeatureCache
from omniret.inputs.media import MediaError, WrongModalityError
from omniret.model import OmniRet
from tests.conftest import local_config_dict
from tests.helpers.media import png_bytes, sine, write_audio, write_video


def embedder(hf_dirs, cache=None, **media):
    data = local_config_dict(hf_dirs)
    data["media"] = {"max_frames": 3, **media}
    return Embedder(OmniRet.build(from_dict(ModelConfig, data)), cache=cache)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    out = {}
    for i in range(2):
        img = Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8))
        out[f"img{i}"] = tmp_path / f"img{i}.png"
        img.save(out[f"img{i}"])
        out[f"wav{i}"] = write_audio(
            tmp_path / f"tone{i}.wav", sine(300 + 200 * i, 0.3 + 0.1 * i, 16000), 16000
        )
    out["vid"] = write_video(tmp_path / "v.mp4", [(255, 0, 0), (0, 0, 255)], size=32)
    return out


def mixed(files):
    return [
        OmniInput(text="a query", instruction="Find the image."),
        OmniInput(image=files["img0"]),
        OmniInput(audio=files["wav0"], text="louder"),
        OmniInput(video=files["vid"]),
        OmniInput(image=files["img1"], text="make it red", instruction="Retrieve the modified image."),
        OmniInput(audio=files["wav1"]),
        OmniInput(text="another text"),
        OmniInput(video=files["vid"], span=(1.0, 2.0)),
    ]


def test_encode_returns_unit_rows_in_input_order(hf_dirs, files):
    emb = embedder(hf_dirs)
    inputs = mixed(files)
    together = emb.encode(inputs, batch_size=3)
    assert together.shape == (8, emb.dim) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.stack([emb.encode([x])[0] for x in inputs])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert not np.allclose(together[3], together[7])  # a span is a different moment


def test_cache_hits_skip_decoding_and_towers(hf_dirs, files, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    emb = embedder(hf_dirs, cache=cache)
    inputs = mixed(files)
    first = emb.encode(inputs)
    fresh = embedder(hf_dirs, cache=None)
    fresh.model.load_state_dict(emb.model.state_dict())
    np.testing.assert_allclose(fresh.encode(inputs), first, atol=1e-6)  # the cache-free path agrees
    calls = {"vision": 0, "audio": 0}
    for name, tower in emb.model.towers.items():
        original = tower.forward

        def spy(*a, _name=name, _orig=original, **k):
            calls[_name] += 1
            return _orig(*a, **k)

        monkeypatch.setattr(tower, "forward", spy)
    import omniret.inputs.features as feats

    monkeypatch.setattr(feats, "load_video", lambda *a, **k: pytest.fail("decoded a cached video"))
    monkeypatch.setattr(feats, "load_image", lambda *a, **k: pytest.fail("decoded a cached image"))
    again = emb.encode(inputs)
    assert calls == {"vision": 0, "audio": 0}
    np.testing.assert_array_equal(first, again)  # hits give exactly what misses gave


def test_video_audio_fusion_modes_differ(hf_dirs, files):
    torch_state = embedder(hf_dirs).model.state_dict()
    out = {}
    for mode in ("early", "late", "off"):
        emb = embedder(hf_dirs, video_audio=mode)
        emb.model.load_state_dict(torch_state)
        out[mode] = emb.encode([OmniInput(video=files["vid"])])[0]
    assert not np.allclose(out["early"], out["off"]) and not np.allclose(out["late"], out["off"])
    assert not np.allclose(out["early"], out["late"])


def test_bad_inputs_raise_named_errors(hf_dirs, files, tmp_path):
    emb = embedder(hf_dirs)
    with pytest.raises(WrongModalityError, match=r"tone0\.wav: expected an image"):
        emb.encode([OmniInput(image=files["wav0"])])
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(MediaError, match=r"zero\.png: file is empty"):
        emb.encode([OmniInput(text="x"), OmniInput(image=tmp_path / "zero.png")])
    with pytest.raises(TypeError, match=r"inputs\[0\] is str"):
        emb.encode(["just a string"])
    with pytest.raises(ValueError, match="at least one"):
        OmniInput()


def test_images_from_bytes_pil_and_arrays_agree(hf_dirs, files):
    emb = embedder(hf_dirs)
    img = Image.open(files["img0"]).convert("RGB")
    rows = emb.encode([OmniInput(image=files["img0"]), OmniInput(image=png_bytes(img)), OmniInput(image=img),
                       OmniInput(image=np.asarray(img))])  # fmt: skip
    np.testing.assert_allclose(rows, np.repeat(rows[:1], 4, axis=0), atol=1e-5)


def test_checkpoint_round_trip_gives_identical_embeddings(hf_dirs, files, tmp_path):
    emb = embedder(hf_dirs)
    emb.model.set_stage(2)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # trained-looking adapters (a fresh LoRA B is zero and would change nothing)
        for name, p in emb.model.composer.named_parameters():
            if "lora_B" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
    inputs = mixed(files)[:3]
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


def test_load_model_presets_shipped_weights_and_untrained_yaml():
    import json
    from importlib import resources

    from omniret.api import SHIPPED

    with pytest.raises(FileNotFoundError, match="not a preset"):
        load_model("no-such-model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shipped = load_model("omniret-small", cache=False)
    assert not any("randomly initialised" in str(w.message) for w in caught)
    manifest = json.loads((SHIPPED / "omniret-small" / "manifest.json").read_text())
    assert shipped.weights_hash == manifest["weights_hash"] and shipped.dim == 1024
    row = shipped.encode([OmniInput(text="a dog barking")])
    assert row.shape == (1, 1024) and abs(np.linalg.norm(row) - 1) < 1e-5
    yaml_preset = str(resources.files("omniret.presets").joinpath("omniret-small.yaml"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh = load_model(yaml_preset, cache=False)
    assert any("randomly initialised" in str(w.message) for w in caught)
    assert fresh.weights_hash == load_model(yaml_preset, cache=False).weights_hash  # seeded: reproducible


def test_multi_vector_model_encodes_one_matrix_per_input(hf_dirs, files):
    data = local_config_dict(hf_dirs)
    data["pooler"] = {**data.get("pooler", {}), "kind": "multi-vector"}
    model = OmniRet.build(from_dict(ModelConfig, data))
    emb = Embedder(model).encode(
        [OmniInput(text="a red square"), OmniInput(image=files["img0"]), OmniInput(text="a tone")],
        batch_size=2,
    )
    assert emb.ndim == 3 and emb.shape[0] == 3 and emb.shape[1] > 1  # (n, V, D), scored with MaxSim
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)


def test_bf16_heads_agree_with_fp32(hf_dirs, files):
    emb = embedder(hf_dirs)
    assert emb.precision == "fp32"  # conftest: OMNIRET_PRECISION=fp32 turns "auto" into fp32
    ref = emb.encode(mixed(files))
    fast = Embedder(emb.model, precision="bf16")  # an explicit choice wins over the environment
    got = fast.encode(mixed(files))
    assert fast.precision == "bf16" and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * ref).sum(1)
    assert cos.min() > 0.995 and not np.array_equal(got, ref), cos  # close, but really computed in bf16


def test_precision_is_validated():
    from omniret.api import resolve_precision

    with pytest.raises(ValueError, match="auto, fp32 or bf16, got 'fp16'"):
        resolve_precision("fp16")
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"
