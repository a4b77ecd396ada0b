"""omniret.model.attention: the Perceiver latent blocks shared by the media resampler and ASWP."""

from __future__ import annotations

import pytest
import torch

from omniret.model.attention import FeedForward, LatentCrossAttention, LatentStack


def test_stack_maps_any_number_of_tokens_to_its_latents():
    stack = LatentStack(dim=16, depth=2, heads=2, dim_head=8)
    latents = torch.randn(3, 5, 16)
    assert stack(torch.randn(3, 11, 16), latents).shape == (3, 5, 16)
    assert stack(torch.randn(3, 1, 16), latents).shape == (3, 5, 16)
    assert len(stack.layers) == 2


@pytest.mark.parametrize("kv_include_latents", [True, False])
def test_masked_tokens_are_never_attended(kv_include_latents):
    stack = LatentStack(dim=16, depth=2, heads=2, dim_head=8, kv_include_latents=kv_include_latents).eval()
    x, latents = torch.randn(2, 4, 16), torch.randn(2, 3, 16)
    padded = torch.cat([x, 1e3 * torch.randn(2, 5, 16)], dim=1)
    mask = torch.tensor([[True] * 4 + [False] * 5] * 2)
    assert torch.allclose(stack(padded, latents, mask), stack(x, latents), atol=1e-5)


def test_an_item_with_every_token_masked_is_refused():
    stack = LatentStack(dim=8, depth=1, heads=1, dim_head=8)
    mask = torch.tensor([[True, False], [False, False]])
    with pytest.raises(ValueError, match="every item needs at least one unmasked token"):
        stack(torch.randn(2, 2, 8), torch.randn(2, 1, 8), mask)


def test_one_key_without_latents_gets_all_the_attention():
    """A softmax over a single key is 1: the output is to_out(value of that token), by hand."""
    attn = LatentCrossAttention(dim=8, heads=2, dim_head=4, kv_include_latents=False)
    x, latents = torch.randn(1, 1, 8), torch.randn(1, 3, 8)
    v = attn.to_kv(attn.norm_media(x)).chunk(2, dim=-1)[1]  # (1, 1, 8): both heads' values
    expected = attn.to_out(v).expand(1, 3, 8)  # every latent reads the same value
    assert torch.allclose(attn(x, latents, None), expected, atol=1e-6)


def test_latents_attend_to_themselves_when_included():
    """With the latents among the keys, two different latent sets read different mixtures of one token."""
    with_z = LatentCrossAttention(dim=8, heads=2, dim_head=4, kv_include_latents=True)
    x = torch.randn(1, 1, 8)
    a = with_z(x, torch.randn(1, 2, 8), None)
    b = with_z(x, torch.randn(1, 2, 8), None)
    assert not torch.allclose(a, b)
    without = LatentCrossAttention(dim=8, heads=2, dim_head=4, kv_include_latents=False)
    without.load_state_dict(with_z.state_dict())
    assert torch.allclose(without(x, torch.randn(1, 2, 8), None), without(x, torch.randn(1, 2, 8), None))


def test_feed_forward_is_layernorm_linear_gelu_linear_of_width_mult():
    ff = FeedForward(dim=8, mult=4)
    assert [type(m).__name__ for m in ff] == ["LayerNorm", "Linear", "GELU", "Linear"]
    assert ff[1].weight.shape == (32, 8) and ff[3].weight.shape == (8, 32)
    assert ff(torch.randn(2, 3, 8)).shape == (2, 3, 8)
