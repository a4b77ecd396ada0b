"""omniret.embedder: ``Embedder.encode`` turns OmniInput lists into unit rows in input order, whatever
the batching, the cache, the input form or the heads' precision; broken weights are refused by input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from omniret import OmniInput
from omniret.api import Embedder
from omniret.config import ModelConfig, from_dict
from omniret.embedder import resolve_precision
from omniret.errors import IntegrityError
from omniret.inputs.cache import FeatureCache
from omniret.inputs.media import MediaError, WrongModalityError
from omniret.model import OmniRet
from tests.conftest import local_config_dict, mixed_inputs, tiny_config, tiny_embedder
from tests.helpers.media import png_bytes


def test_encode_returns_unit_rows_in_input_order(hf_dirs, media_files):
    emb = tiny_embedder(hf_dirs)
    inputs = mixed_inputs(media_files)
    together = emb.encode(inputs, batch_size=3)
    assert together.shape == (8, emb.dim) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.stack([emb.encode([x])[0] for x in inputs])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert not np.allclose(together[3], together[7])  # a span is a different moment


def test_cache_hits_skip_decoding_and_towers(hf_dirs, media_files, tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    emb = tiny_embedder(hf_dirs, cache=cache)
    inputs = mixed_inputs(media_files)
    first = emb.encode(inputs)
    fresh = tiny_embedder(hf_dirs, cache=None)
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


def test_video_audio_fusion_modes_differ(hf_dirs, media_files):
    torch_state = tiny_embedder(hf_dirs).model.state_dict()
    out = {}
    for mode in ("early", "late", "off"):
        emb = tiny_embedder(hf_dirs, video_audio=mode)
        emb.model.load_state_dict(torch_state)
        out[mode] = emb.encode([OmniInput(video=media_files["vid"])])[0]
    assert not np.allclose(out["early"], out["off"]) and not np.allclose(out["late"], out["off"])
    assert not np.allclose(out["early"], out["late"])


def test_bad_inputs_raise_named_errors(hf_dirs, media_files, tmp_path):
    emb = tiny_embedder(hf_dirs)
    with pytest.raises(WrongModalityError, match=r"tone0\.wav: expected an image"):
        emb.encode([OmniInput(image=media_files["wav0"])])
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(MediaError, match=r"zero\.png: file is empty"):
        emb.encode([OmniInput(text="x"), OmniInput(image=tmp_path / "zero.png")])
    with pytest.raises(TypeError, match=r"inputs\[0\] is str"):
        emb.encode(["just a string"])
    with pytest.raises(ValueError, match="at least one"):
        OmniInput()


def test_images_from_bytes_pil_and_arrays_agree(hf_dirs, media_files):
    emb = tiny_embedder(hf_dirs)
    img = Image.open(media_files["img0"]).convert("RGB")
    rows = emb.encode([OmniInput(image=media_files["img0"]), OmniInput(image=png_bytes(img)), OmniInput(image=img),
                       OmniInput(image=np.asarray(img))])  # fmt: skip
    np.testing.assert_allclose(rows, np.repeat(rows[:1], 4, axis=0), atol=1e-5)


def test_multi_vector_model_encodes_one_matrix_per_input(hf_dirs, media_files):
    data = local_config_dict(hf_dirs)
    data["pooler"] = {**data.get("pooler", {}), "kind": "multi-vector"}
    model = OmniRet.build(from_dict(ModelConfig, data))
    emb = Embedder(model).encode(
        [OmniInput(text="a red square"), OmniInput(image=media_files["img0"]), OmniInput(text="a tone")],
        batch_size=2,
    )
    assert emb.ndim == 3 and emb.shape[0] == 3 and emb.shape[1] > 1  # (n, V, D), scored with MaxSim
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)


def test_token_states_are_unit_rows_of_real_tokens_whatever_the_batching(hf_dirs, media_files):
    emb = tiny_embedder(hf_dirs)
    inputs = mixed_inputs(media_files)
    together = emb.token_states(inputs, batch_size=3)
    assert len(together) == len(inputs) and all(t.dtype == np.float32 and t.shape[1] == 32 for t in together)
    for x, tokens in zip(inputs, together, strict=True):
        np.testing.assert_allclose(np.linalg.norm(tokens, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(emb.token_states([x])[0], tokens, atol=1e-5)  # padding never leaks in
    assert together[1].shape[0] == 2 + 4  # an image: [CLS], M=4 media tokens, [SEP]
    late = tiny_embedder(hf_dirs, video_audio="late")
    late.model.load_state_dict(emb.model.state_dict())
    off = tiny_embedder(hf_dirs, video_audio="off")
    off.model.load_state_dict(emb.model.state_dict())
    video = [OmniInput(video=media_files["vid"])]
    [both], [frames] = late.token_states(video), off.token_states(video)
    assert both.shape[0] == 2 * frames.shape[0]  # late fusion: the frames stream and the sound stream
    np.testing.assert_allclose(both[: len(frames)], frames, atol=1e-5)
    with pytest.raises(TypeError, match="token_states takes a list"):
        emb.token_states(inputs[0])


def test_bf16_heads_agree_with_fp32(hf_dirs, media_files):
    emb = tiny_embedder(hf_dirs)
    assert emb.precision == "fp32"  # conftest: OMNIRET_PRECISION=fp32 turns "auto" into fp32
    ref = emb.encode(mixed_inputs(media_files))
    fast = Embedder(emb.model, precision="bf16")  # an explicit choice wins over the environment
    got = fast.encode(mixed_inputs(media_files))
    assert fast.precision == "bf16" and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * ref).sum(1)
    assert cos.min() > 0.995 and not np.array_equal(got, ref), cos  # close, but really computed in bf16


def test_precision_is_validated():
    with pytest.raises(ValueError, match="auto, fp32 or bf16, got 'fp16'"):
        resolve_precision("fp16")
    assert resolve_precision("auto") == "fp32" and resolve_precision("bf16") == "bf16"


def test_the_environment_decides_auto_only(monkeypatch):
    """OMNIRET_PRECISION replaces "auto" (and None), never an explicit choice."""
    monkeypatch.setenv("OMNIRET_PRECISION", "bf16")
    assert resolve_precision("auto") == "bf16" and resolve_precision(None) == "bf16"
    assert resolve_precision("fp32") == "fp32"
    monkeypatch.setenv("OMNIRET_PRECISION", "fp16")
    with pytest.raises(ValueError, match="got 'fp16'"):  # a bad environment value is refused, not ignored
        resolve_precision("auto")


def test_nan_embeddings_are_refused_naming_the_input():
    torch.manual_seed(0)
    model = OmniRet.build(tiny_config())
    with torch.no_grad():
        for p in model.pooler.parameters():
            p.fill_(float("nan"))
    inputs = [OmniInput(text="first words"), OmniInput(text="second words")]
    with pytest.raises(
        IntegrityError, match=r"non-finite embedding for inputs\[[01]\] \(text='(first|second) words'\)"
    ):
        Embedder(model).encode(inputs)
