"""model/bert.py: the transformers-free BERT gives transformers' numbers and token ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from omniret.assets import asset_path
from omniret.model.bert import load_native_bert, native_config
from omniret.model.composer import Composer

TEXTS = ["a photo of a cat", "Café au lait, s'il vous plaît!", "x", "word " * 300]  # the last: > 128 tokens


@pytest.fixture(scope="module")
def minilm():
    from transformers import AutoModel, AutoTokenizer

    path = asset_path("minilm-l6")
    return path, AutoModel.from_pretrained(str(path)).eval(), AutoTokenizer.from_pretrained(str(path))


def test_token_ids_equal_transformers_without_truncation(minilm):
    path, _, hf_tok = minilm
    _, tok = load_native_bert(path)
    for text in TEXTS:
        for special in (False, True):
            assert (
                tok(text, add_special_tokens=special)["input_ids"]
                == hf_tok(text, add_special_tokens=special)["input_ids"]
            )
    assert len(tok(TEXTS[-1])["input_ids"]) == 302  # 300 words + [CLS] [SEP]: tokenizer.json's 128 cap is off
    assert tok.eos_token_id is None and hf_tok.eos_token_id is None


def test_hidden_states_equal_transformers_with_padding(minilm):
    path, hf, _ = minilm
    native, _ = load_native_bert(path)
    torch.manual_seed(0)
    embeds = torch.randn(3, 20, 384)
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 12:] = 0
    mask[2, 3:] = 0
    with torch.no_grad():
        ours = native(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        theirs = hf(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    torch.testing.assert_close(ours[keep], theirs[keep], atol=1e-5, rtol=1e-5)


def test_a_composer_on_either_backbone_reads_the_same(minilm):
    path, hf, hf_tok = minilm
    native, tok = load_native_bert(path)
    a, b = Composer(backbone=native, tokenizer=tok), Composer(backbone=hf, tokenizer=hf_tok)
    media = [[], [torch.randn(4, 384)], [], []]
    texts = [TEXTS[0], "find <image> but red", TEXTS[1], TEXTS[3]]
    with torch.no_grad():
        (ha, ma), (hb, mb) = a(texts, media), b(texts, media)
    assert torch.equal(ma, mb)
    torch.testing.assert_close(ha[ma], hb[mb], atol=1e-5, rtol=1e-5)


def test_only_a_plain_bert_directory_is_taken(tmp_path):
    path = asset_path("minilm-l6")
    assert native_config(path).num_hidden_layers == 6
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_bytes((path / name).read_bytes())
    cfg = json.loads((path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "position_embedding_type": "relative_key"}))
    assert native_config(tmp_path) is None and load_native_bert(tmp_path) is None
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "qwen2"}))
    assert native_config(tmp_path) is None
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert native_config(tmp_path) is None  # no tokenizer.json: transformers reads vocab.txt itself


@pytest.mark.parametrize(
    ("switch", "expected"), [("1", ["NativeBert", "False"]), ("0", ["BertModel", "True"])]
)
def test_the_shipped_model_encodes_without_importing_transformers(switch, expected):
    """OMNIRET_NATIVE_COMPOSER=0 is the escape back to transformers."""
    code = ("import sys; from omniret.api import load_model; from omniret.inputs import OmniInput; "
            "m = load_model('omniret-small', cache=False); v = m.encode([OmniInput(text='a dog barking')]); "
            "print(type(m.model.composer.backbone).__name__, v.shape[1], 'transformers' in sys.modules)")  # fmt: skip
    env = {**os.environ, "OMNIRET_NATIVE_COMPOSER": switch}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.split() == [expected[0], "1024", expected[1]]
