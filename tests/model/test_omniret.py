import pytest
import torch

from omniret import Media, OmniRet, Sample
from omniret.config import ModelConfig, from_dict
from omniret.losses import omniret_loss
from tests.conftest import tiny_config, tiny_config_dict


def model(composer="bert", pooler="aswp"):
    return OmniRet.build(tiny_config(composer, pooler))


def image():
    return Media("image", torch.randn(3, 32, 32))


def audio(frames=20):
    return Media("audio", torch.randn(8, frames))


def video(frames=3):
    return Media("video", torch.randn(frames, 3, 32, 32))


@pytest.mark.parametrize("composer", ["bert", "qwen2"])
def test_end_to_end_every_modality_mix(composer):
    m = model(composer)
    samples = [
        Sample(text="a red dress", instruction="Find an image that matches the caption."),
        Sample(media=[image()]),
        Sample(text="make it blue", media=[image()], instruction="Retrieve the modified image."),
        Sample(media=[audio(25)]),
        Sample(media=[video(5)], text="<video> a dog barking"),
        Sample(media=[audio(9), image()]),
    ]
    out = m(samples)
    assert out.embeddings.shape == (6, 40)
    torch.testing.assert_close(out.embeddings.norm(dim=-1), torch.ones(6))
    assert out.media_tokens.shape == (6, 4, 32)  # every media item resampled to M=4 tokens of D=32


def test_batching_and_padding_do_not_change_an_embedding():
    m = model("qwen2").eval()
    samples = [
        Sample(media=[audio(9)], text="short"),
        Sample(media=[audio(30), image()], text="a longer text here"),
    ]
    together = m.embed(samples)
    for i, s in enumerate(samples):
        torch.testing.assert_close(m.embed([s])[0], together[i], atol=1e-5, rtol=1e-4)


def test_cached_features_give_the_same_embedding_as_raw_media():
    m = model().eval()
    img, aud = image(), audio(14)
    with torch.no_grad():
        v_tokens, _ = m.towers["vision"](img.data[None])
        a_tokens, a_mask = m.towers["audio"](aud.data[None], torch.tensor([14]))
    cached = [
        Media("image", v_tokens[0], is_features=True),
        Media("audio", a_tokens[0][a_mask[0]], is_features=True),
    ]
    raw = m.embed([Sample(text="x", media=[img, aud])])
    torch.testing.assert_close(m.embed([Sample(text="x", media=cached)]), raw, atol=1e-5, rtol=1e-4)


def test_video_frames_and_video_features_agree():
    m = model().eval()
    vid = video(3)
    with torch.no_grad():
        frames, _ = m.towers["vision"](vid.data)  # (T, N, d)
    raw = m.embed([Sample(media=[vid])])
    feats = m.embed([Sample(media=[Media("video", frames, is_features=True)])])
    torch.testing.assert_close(feats, raw, atol=1e-5, rtol=1e-4)


def test_token_states_are_the_unpooled_states_embed_pools():
    m = model().train()
    samples = [Sample(text="a cat", instruction="Find an image."), Sample(media=[image()]),
               Sample(media=[audio(9), image()])]  # fmt: skip
    hidden, mask = m.token_states(samples)
    assert m.training and hidden.shape[:2] == mask.shape and hidden.shape[-1] == 32  # mode restored
    assert mask.sum(1).tolist()[1:] == [2 + 4, 2 + 4 + 4]  # [CLS], M=4 resampled tokens per medium, [SEP]
    pooled = torch.nn.functional.normalize(m.pooler(hidden, mask), dim=-1)
    torch.testing.assert_close(pooled, m.embed(samples), atol=1e-5, rtol=1e-4)  # the forward path, unpooled


def test_queries_carry_instructions_candidates_do_not():
    m = model().eval()
    plain = m.embed([Sample(text="a cat")])
    instructed = m.embed([Sample(text="a cat", instruction="Find an image.")])
    assert not torch.allclose(plain, instructed)


@pytest.mark.parametrize(
    "pooler,shape", [("eos", (2, 32)), ("mean", (2, 32)), ("cls", (2, 32)), ("multi-vector", (2, 3, 32))]
)
def test_alternative_poolers(pooler, shape):
    emb = model(pooler=pooler).embed([Sample(text="a"), Sample(media=[image()])])
    assert emb.shape == shape
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(shape[:-1]))


def test_stage1_trains_heads_only_and_gradients_reach_them():
    m = model()
    m.set_stage(1)
    trainable = {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad}
    assert trainable == {"projectors", "resampler", "pooler"}
    out = m([Sample(text="q1"), Sample(text="q2")])
    cand = m([Sample(media=[image()]), Sample(media=[audio()])])
    omniret_loss(out.embeddings, cand.embeddings, cand.media_tokens).total.backward()
    assert m.projectors["vision"].net[0].weight.grad.abs().sum() > 0  # through the frozen composer
    assert all(p.grad is None for p in m.composer.parameters())


def test_stage2_adds_lora_keeps_base_weights_and_copies_video_latents():
    m = model()
    m.set_stage(1)
    base = {n: p.detach().clone() for n, p in m.composer.base_model.named_parameters()}
    m.set_stage(2)
    assert torch.equal(m.resampler.modality_latents["video"], m.resampler.modality_latents["image"])
    trainable = [n for n, p in m.composer.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):  # LoRA B starts at 0, so take two steps to move the adapted output
        opt.zero_grad()
        m([Sample(text="a b c"), Sample(text="d e f")]).embeddings.pow(3).sum().backward()
        opt.step()
    named = dict(m.composer.base_model.named_parameters())
    after = {n.replace(".base_layer", ""): p for n, p in named.items() if "lora_" not in n}
    assert set(after) == set(base) and all(torch.equal(after[n], base[n]) for n in base)
    assert any(p.abs().sum() > 0 for n, p in named.items() if "lora_B" in n)  # the adapters did train


def test_missing_tower_is_a_clear_error():
    data = tiny_config_dict()
    del data["towers"]["audio"]
    m = OmniRet.build(from_dict(ModelConfig, data))
    with pytest.raises(ValueError, match="no audio tower"):
        m.embed([Sample(media=[audio()])])


def test_media_and_placeholders_must_agree():
    with pytest.raises(ValueError, match="do not match"):
        model().embed([Sample(text="<audio> x", media=[image()])])
    with pytest.raises(ValueError, match="needs text, media or both"):
        Sample()
    with pytest.raises(ValueError, match="unknown media modality 'smell'"):
        Media("smell", torch.zeros(1))


@pytest.mark.parametrize("kind", ["separate", "none"])
def test_resampler_variants(kind):
    data = tiny_config_dict()
    data["resampler"]["kind"] = kind
    m = OmniRet.build(from_dict(ModelConfig, data)).eval()
    out = m([Sample(media=[image()]), Sample(media=[audio(20), video(3)], text="x")])
    assert out.embeddings.shape == (2, 40)
    if kind == "none":  # all 16 image tokens reach the composer instead of M=4, and nothing to diversify
        assert out.media_tokens is None
        assert [t.shape[0] for t in m.encode_media([image(), audio(20)])] == [16, 10]
    else:
        assert out.media_tokens.shape == (3, 4, 32)
    m.set_stage(2)  # separate resamplers copy image -> video too
