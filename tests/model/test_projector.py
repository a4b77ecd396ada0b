"""omniret.model.projector: the per-tower "mlp2x_gelu" projector from token width d to the model width D."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from omniret.model import Projector


def test_projector_shapes_and_width_check():
    p = Projector(in_dim=24, dim=32)
    assert p(torch.randn(2, 7, 24)).shape == (2, 7, 32)
    assert p(torch.randn(1, 4, 3, 3, 24)).shape == (1, 4, 3, 3, 32)  # video grids pass through
    with pytest.raises(ValueError, match="width 24"):
        p(torch.randn(2, 7, 23))


def test_projector_is_linear_gelu_linear():
    """With identity weights and zero biases the two linears vanish and only the GELU between them is left."""
    p = Projector(in_dim=4, dim=4)
    with torch.no_grad():
        for layer in (p.net[0], p.net[2]):
            layer.weight.copy_(torch.eye(4))
            layer.bias.zero_()
    x = torch.tensor([[-3.0, -0.5, 0.0, 2.0]])
    assert torch.allclose(p(x), F.gelu(x))
    out = p(x)[0]
    assert out[2].item() == 0.0 and out[3].item() == pytest.approx(2.0 * 0.97725, abs=1e-4)  # x Phi(x)


def test_projector_parameter_count_is_two_linears():
    """(d D + D) + (D D + D), the count docs/METHOD_NOTES.md §8.4 uses for the paper's 84 M."""
    count = sum(p.numel() for p in Projector(in_dim=24, dim=32).parameters())
    assert count == (24 * 32 + 32) + (32 * 32 + 32)
