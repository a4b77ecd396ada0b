"""omniret.model.poolers: one registry of poolers from hidden states (B, T, D) to embeddings.

ASWP itself is tested in test_aswp.py; each pooler inside the whole model in test_omniret.py."""

from __future__ import annotations

import pytest
import torch

from omniret.config import PoolerConfig
from omniret.model import ASWP, POOLERS, MultiVectorPooler, TokenPooler, build_pooler
from omniret.model.poolers import last_token_index

HIDDEN = torch.tensor(
    [[[1.0, 0.0], [2.0, 4.0], [3.0, 8.0], [9.0, 9.0]], [[5.0, 1.0], [7.0, 3.0], [0.0, 0.0], [0.0, 0.0]]]
)  # (2, 4, 2): the second row is right-padded after two tokens
MASK = torch.tensor([[True, True, True, True], [True, True, False, False]])


def test_builtin_registries():
    assert {"aswp", "eos", "cls", "mean", "multi-vector"} <= set(POOLERS.names())


def test_last_token_index_of_right_padded_masks():
    assert last_token_index(MASK).tolist() == [3, 1]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cls", [[1.0, 0.0], [5.0, 1.0]]),
        ("eos", [[9.0, 9.0], [7.0, 3.0]]),  # the last real token, not the padding
        ("mean", [[15 / 4, 21 / 4], [6.0, 2.0]]),  # over real tokens only
    ],
)
def test_token_poolers_by_hand(mode, expected):
    pooler = TokenPooler(dim=2, mode=mode)
    assert pooler.out_dim == 2
    assert torch.equal(pooler(HIDDEN, MASK), torch.tensor(expected))  # exact in float32


def test_token_poolers_without_a_mask_use_every_token():
    assert torch.equal(TokenPooler(dim=2, mode="eos")(HIDDEN), HIDDEN[:, -1])
    assert torch.allclose(TokenPooler(dim=2, mode="mean")(HIDDEN), HIDDEN.mean(1))


def test_multi_vector_pooler_returns_v_vectors_and_ignores_padding():
    pooler = MultiVectorPooler(dim=16, num_vectors=3, depth=1, heads=2, dim_head=8, ff_mult=1).eval()
    h = torch.randn(2, 5, 16)
    padded = torch.cat([h, 100 * torch.randn(2, 3, 16)], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 3] * 2)
    out = pooler(padded, mask)
    assert out.shape == (2, 3, 16) and pooler.out_dim == 16
    torch.testing.assert_close(out, pooler(h), atol=1e-5, rtol=1e-5)


def test_build_pooler_reads_its_config():
    cfg = PoolerConfig(num_latents=4, num_refs=5, num_slices=12, depth=1, heads=2, dim_head=8, num_vectors=2)
    aswp = build_pooler(16, cfg)
    assert isinstance(aswp, ASWP) and aswp(torch.randn(2, 7, 16)).shape == (2, 12)
    multi = build_pooler(16, PoolerConfig(**{**cfg.__dict__, "kind": "multi-vector"}))
    assert isinstance(multi, MultiVectorPooler) and multi.num_vectors == 2
    eos = build_pooler(16, PoolerConfig(kind="eos"))
    assert isinstance(eos, TokenPooler) and (eos.mode, eos.out_dim) == ("eos", 16)
    with pytest.raises(ValueError, match="unknown pooler 'max'; expected one of: aswp, cls, eos, mean"):
        build_pooler(16, PoolerConfig(kind="max"))
