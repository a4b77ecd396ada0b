import pytest
import torch

from omniret.model import ASWP, straight_through_max
from omniret.model.aswp import quantile_interp_weights


def make(**kw):
    args = dict(dim=16, num_latents=6, num_refs=6, num_slices=24, heads=2, dim_head=8)
    args.update(kw)
    return ASWP(**args)


def test_shape_and_unit_slices():
    m = make()
    assert m(torch.randn(3, 9, 16)).shape == (3, 24)
    torch.testing.assert_close(m.theta().norm(dim=0), torch.ones(24))


def test_identity_slices_when_they_fit():
    m = make(num_slices=8)
    torch.testing.assert_close(m.theta(), torch.eye(16)[:, :8])


def test_references_start_as_linspace():
    m = make()
    torch.testing.assert_close(m.refs[:, 5], torch.linspace(-1, 1, 6))


@pytest.mark.parametrize("head", ["stm", "max", "mean", "weighted"])
def test_permutation_invariance(head):
    m = make(head=head).eval()
    h = torch.randn(2, 9, 16)
    perm = torch.randperm(9)
    torch.testing.assert_close(m(h[:, perm]), m(h), atol=1e-5, rtol=1e-5)


def test_masked_tokens_change_nothing():
    m = make().eval()
    h = torch.randn(2, 5, 16)
    padded = torch.cat([h, torch.randn(2, 3, 16) * 50], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 3] * 2)
    torch.testing.assert_close(m(padded, mask), m(h), atol=1e-5, rtol=1e-5)


def test_stm_forward_equals_columnwise_max_of_displacement():
    m = make()
    h = torch.randn(2, 9, 16)
    e = m.displacement(h)  # (B, S, L)
    assert e.shape == (2, 6, 24)
    torch.testing.assert_close(m(h), e.max(dim=1).values)
    torch.testing.assert_close(make(head="mean")(h).shape, torch.Size([2, 24]))


def test_displacement_is_sorted_reference_minus_sorted_projection():
    m = make()
    h = torch.randn(1, 9, 16)
    p = m.set_embedding(h) @ m.theta()  # (1, N, L)
    expected = m.refs.sort(dim=0).values - p.sort(dim=1).values[0]
    torch.testing.assert_close(m.displacement(h)[0], expected)
    flipped = make(sign="sample-minus-ref")
    flipped.load_state_dict(m.state_dict())
    torch.testing.assert_close(flipped.displacement(h), -m.displacement(h))


def test_stm_gradient_reaches_slices_references_and_every_latent():
    m = make()
    m(torch.randn(4, 9, 16)).sum().backward()
    assert m.slices.grad.abs().gt(0).all()
    assert m.refs.grad.abs().gt(0).all()  # dense: the softmax reaches every reference
    assert m.latents.grad.abs().sum(dim=1).gt(0).all()


def test_plain_max_gradient_is_sparse_over_references():
    m = make(head="max")
    m(torch.randn(1, 9, 16)).sum().backward()
    assert (m.refs.grad != 0).sum() == 24  # exactly one reference per slice


def test_straight_through_max_value_and_gradient():
    e = torch.tensor([[1.0, 3.0, 2.0]], requires_grad=True)
    out = straight_through_max(e, dim=1)
    assert out.item() == 3.0
    out.backward()
    a = torch.softmax(e.detach(), dim=1)[0]
    ev = e.detach()[0]
    expected = torch.tensor([0.0, 1.0, 0.0]) + a * (ev - (a * ev).sum())
    torch.testing.assert_close(e.grad[0], expected)


def test_quantile_interpolation_is_identity_for_equal_sizes_and_exact_on_linear_data():
    i0, i1, w = quantile_interp_weights(5, 5)
    x = torch.tensor([2.0, 3.0, 5.0, 7.0, 11.0])
    torch.testing.assert_close(x[i0] * (1 - w) + x[i1] * w, x)
    # Sorted samples linear in their quantile k/(N+1) are reproduced exactly at j/(S+1),
    # including the two ends, which need extrapolation.
    n, s = 4, 7
    i0, i1, w = quantile_interp_weights(n, s)
    xs = 3 * torch.arange(1, n + 1) / (n + 1) - 1
    expected = 3 * torch.arange(1, s + 1) / (s + 1) - 1
    torch.testing.assert_close(xs[i0] * (1 - w) + xs[i1] * w, expected)


def test_n_differs_from_s():
    m = make(num_latents=5, num_refs=9)
    h = torch.randn(2, 7, 16)
    assert m.displacement(h).shape == (2, 9, 24)
    assert m(h).shape == (2, 24)


def test_bad_head_and_sign_are_rejected():
    with pytest.raises(ValueError, match="unknown ASWP head 'median'"):
        make(head="median")
    with pytest.raises(ValueError, match="unknown ASWP sign"):
        make(sign="up")
