import pytest
import torch

from omniret.config import ComposerConfig, LoraConfig
from omniret.model import Composer
from tests.conftest import BERT, QWEN2


def composer(arch="bert", **kw):
    hf = BERT if arch == "bert" else QWEN2
    cfg = ComposerConfig(arch=arch, hf_config=hf, append_eos=arch != "bert", **kw)
    return Composer.from_config(cfg, dim=32).eval()


@pytest.mark.parametrize("arch", ["bert", "qwen2"])
def test_runs_end_to_end_with_media_spliced(arch):
    comp = composer(arch)
    media = [[torch.randn(4, 32)], [], [torch.randn(4, 32), torch.randn(4, 32)]]
    texts = ["<image> a red shirt", "just text", "<audio> and <image> together"]
    hidden, mask = comp(texts, media)
    assert hidden.shape[0] == 3 and hidden.shape[-1] == 32 and mask.shape == hidden.shape[:2]
    embeds, _ = comp.embed(texts, media)
    start = len(comp.prefix_ids)
    torch.testing.assert_close(embeds[0, start : start + 4], media[0][0])  # media sit at the placeholder


def test_bert_adds_cls_and_sep_qwen_appends_eos():
    bert = composer("bert")
    assert bert.prefix_ids == [1] and bert.suffix_ids == [2]  # [CLS] ... [SEP] of the byte tokenizer
    qwen = composer("qwen2")
    assert qwen.prefix_ids == [] and qwen.suffix_ids == [qwen.tokenizer.eos_token_id]


def test_placeholder_count_must_match_media():
    with pytest.raises(ValueError, match="1 placeholders"):
        composer().embed(["<image> x"], [[]])


def test_text_is_truncated_but_media_are_kept():
    comp = composer(max_length=5)
    _embeds, mask = comp.embed(["<image> " + "word " * 50], [[torch.randn(4, 32)]])
    assert int(mask.sum()) == 1 + 4 + 5 + 1  # CLS + media + 5 text tokens + SEP


def _position0_changes(comp) -> bool:
    ids = comp.tokenizer("abcdefgh", add_special_tokens=False)["input_ids"]
    table = comp.base_model.get_input_embeddings()
    x = table(torch.tensor([ids]))
    y = x.clone()
    y[0, -1] += 5.0  # perturb only the last token
    mask = torch.ones(1, len(ids), dtype=torch.bool)
    with torch.no_grad():
        a = comp.backbone(inputs_embeds=x, attention_mask=comp._attention_mask(x, mask)).last_hidden_state
        b = comp.backbone(inputs_embeds=y, attention_mask=comp._attention_mask(y, mask)).last_hidden_state
    return not torch.allclose(a[0, 0], b[0, 0], atol=1e-6)


def test_bidirectional_decoder_sees_later_tokens_causal_does_not():
    assert _position0_changes(composer("qwen2", bidirectional=True))
    assert not _position0_changes(composer("qwen2", bidirectional=False))
    assert composer("qwen2").is_decoder and not composer("bert").is_decoder


def test_bidirectional_padding_is_masked():
    comp = composer("qwen2")
    short, _ = comp(["short"], [[]])
    both, mask = comp(["short", "a much longer second input"], [[], []])
    n = int(mask[0].sum())
    torch.testing.assert_close(both[0, :n], short[0], atol=1e-5, rtol=1e-4)


def test_encoder_cannot_be_causal():
    with pytest.raises(ValueError, match="encoder"):
        composer("bert", bidirectional=False)


@pytest.mark.parametrize("arch", ["bert", "qwen2"])
def test_lora_adds_only_adapter_parameters_as_trainable(arch):
    comp = composer(arch)
    before = {n: p.clone() for n, p in comp.backbone.named_parameters()}
    comp.add_lora(LoraConfig(r=4, alpha=16, dropout=0.0))
    trainable = [n for n, p in comp.backbone.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    base = {n: p for n, p in comp.base_model.named_parameters() if "lora_" not in n}
    assert len(base) == len(before)
    hidden, _ = comp(["some text"], [[]])
    hidden.sum().backward()
    assert all(p.grad is None for n, p in comp.backbone.named_parameters() if "lora_" not in n)


def test_missing_local_directory_is_named(tmp_path):
    missing = tmp_path / "gte-qwen2"
    with pytest.raises(FileNotFoundError, match="gte-qwen2"):
        Composer.from_config(ComposerConfig(path=str(missing)), dim=32)


def test_hidden_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="hidden size 32 != model dim 48"):
        Composer.from_config(ComposerConfig(arch="bert", hf_config=BERT), dim=48)


def test_too_many_tokens_for_absolute_positions_is_a_clear_error():
    comp = composer("bert")
    limit = comp.base_model.config.max_position_embeddings
    with pytest.raises(ValueError, match=f"has {limit} positions"):
        comp(["<audio> long"], [[torch.randn(limit + 5, 32)]])


def test_length_buckets_bound_padding_and_cover_every_row_once():
    from omniret.model.composer import length_buckets

    lengths = [217, 18, 20, 16, 103, 17, 19, 18, 16, 21]
    buckets = length_buckets(lengths)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for b in buckets:
        assert len(b) * max(lengths[i] for i in b) <= 1.5 * sum(lengths[i] for i in b)
    assert [len(b) for b in buckets] == [2, 8]  # 217 and 103 (36 % padding), then the short ones
    assert length_buckets([217, 20, 20, 20]) == [[0], [1, 2, 3]]
    assert length_buckets([12, 12, 12]) == [[0, 1, 2]] and length_buckets([]) == []


@pytest.mark.parametrize("arch", ["bert", "qwen2"])
def test_bucketed_batch_equals_each_input_alone_and_calls_with_less_padding(arch):
    comp = composer(arch)
    texts = ["a", "word " * 12, "b c", "one two three", "word " * 5]
    media = [[torch.randn(3, 32)] if i % 2 == 0 else [] for i in range(len(texts))]
    texts = [t + (" <image>" if m else "") for t, m in zip(texts, media, strict=True)]
    shapes = []
    comp.backbone.register_forward_hook(lambda m, a, kw, out: shapes.append(tuple(kw["inputs_embeds"].shape)),
                                        with_kwargs=True)  # fmt: skip
    hidden, mask = comp(texts, media)
    assert len(shapes) > 1 and sum(b * t for b, t, _ in shapes) < mask.shape[0] * mask.shape[1]
    for i in range(len(texts)):
        alone, _ = comp([texts[i]], [media[i]])
        n = int(mask[i].sum())
        torch.testing.assert_close(hidden[i, :n], alone[0], atol=1e-5, rtol=1e-4)


def test_hf_text_composer_from_directory(hf_dirs):
    comp = Composer.from_config(ComposerConfig(path=str(hf_dirs / "bert")), dim=32)
    hidden, mask = comp(["<image> hello"], [[torch.randn(4, 32)]])
    n_text = len(comp.tokenizer(" hello", add_special_tokens=False)["input_ids"])
    assert hidden.shape[-1] == 32 and int(mask.sum()) == 1 + 4 + n_text + 1  # [CLS] media text [SEP]
