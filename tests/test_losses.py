import math

import pytest
import torch
import torch.nn.functional as F

from omniret.config import LossConfig
from omniret.losses import (
    diversity_loss,
    hard_negative_infonce,
    hard_negative_weights,
    negative_mask,
    omniret_loss,
    similarity,
    triplet_loss,
)


def unit(*shape):
    return F.normalize(torch.randn(*shape), dim=-1)


def test_beta_zero_equals_cross_entropy():
    q, c = unit(6, 8), unit(6, 8)
    expected = F.cross_entropy(q @ c.T / 0.07, torch.arange(6))
    torch.testing.assert_close(hard_negative_infonce(q, c, beta=0.0), expected)
    extra = unit(9, 8)  # extra candidates beyond the positives are plain negatives
    torch.testing.assert_close(
        hard_negative_infonce(q, extra, beta=0.0), F.cross_entropy(q @ extra.T / 0.07, torch.arange(6))
    )


def test_symmetric_adds_the_candidate_direction():
    q, c = unit(5, 8), unit(5, 8)
    logits = q @ c.T / 0.07
    expected = F.cross_entropy(logits, torch.arange(5)) + F.cross_entropy(logits.T, torch.arange(5))
    torch.testing.assert_close(hard_negative_infonce(q, c, beta=0.0, symmetric=True), expected)


def test_weights_average_to_one_over_negatives_and_favour_hard_ones():
    logits = torch.randn(5, 5) * 3
    neg = negative_mask(logits)
    w = hard_negative_weights(logits, neg, beta=0.5).exp()
    torch.testing.assert_close(w.sum(1) / neg.sum(1), torch.ones(5))
    assert (w.diagonal() == 0).all()
    row = logits[0].clone()
    row[0] = -math.inf
    assert w[0].argmax() == row.argmax()  # the hardest negative gets the largest weight


def test_hn_nce_matches_hand_computation():
    q, c = unit(4, 6), unit(4, 6)
    phi = q @ c.T / 0.07
    expected = []
    for i in range(4):
        negs = [j for j in range(4) if j != i]
        z = sum(math.exp(0.5 * phi[i, j].item()) for j in negs)
        w = {j: len(negs) * math.exp(0.5 * phi[i, j].item()) / z for j in negs}
        denom = math.exp(phi[i, i].item()) + sum(w[j] * math.exp(phi[i, j].item()) for j in negs)
        expected.append(-phi[i, i].item() + math.log(denom))
    assert hard_negative_infonce(q, c, beta=0.5).item() == pytest.approx(sum(expected) / 4, rel=1e-4)


def test_same_id_duplicates_are_never_negatives():
    q, c = unit(4, 8), unit(4, 8)
    ids = torch.tensor([0, 1, 0, 2])
    neg = negative_mask(q @ c.T, candidate_ids=ids)
    assert not neg[0, 2] and not neg[2, 0] and neg[0, 1]
    # Removing candidate 2 from query 0's negatives by id equals dropping that logit by hand.
    logits = q @ c.T / 0.07
    masked = logits.clone()
    masked[0, 2] = masked[2, 0] = -math.inf
    torch.testing.assert_close(
        hard_negative_infonce(q, c, beta=0.0, candidate_ids=ids), F.cross_entropy(masked, torch.arange(4))
    )


def test_false_negative_threshold_removes_exactly_the_negatives_above_it():
    sim = torch.tensor(
        [[0.8, 0.79, 0.5, 0.77], [0.1, 0.6, 0.58, 0.2], [0.3, 0.3, 0.9, 0.86], [0.0, 0.0, 0.0, 0.5]]
    )
    neg = negative_mask(sim, false_negative_threshold=0.95)
    expected = (sim <= 0.95 * sim.diagonal()[:, None]) & ~torch.eye(4, dtype=torch.bool)
    assert torch.equal(neg, expected)
    assert not neg[0, 1] and not neg[0, 3] and not neg[1, 2] and not neg[2, 3]  # the near-duplicates
    assert neg[0, 2] and neg[1, 0]


def test_no_negatives_gives_zero_loss_and_finite_gradient():
    q = unit(2, 4).requires_grad_(True)
    c = q.detach().clone()
    loss = hard_negative_infonce(q, c, candidate_ids=torch.tensor([7, 7]))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(q.grad).all()


def test_triplet_hardest_and_mean_by_hand():
    sim = torch.tensor([[0.9, 0.85, 0.1], [0.2, 0.5, 0.45], [0.3, 0.0, 0.95]])
    q = torch.eye(3)
    c = sim.T.contiguous()  # so that q @ c.T == sim
    hardest = (max(0, 0.1 - 0.9 + 0.85) + max(0, 0.1 - 0.5 + 0.45) + max(0, 0.1 - 0.95 + 0.3)) / 3
    assert triplet_loss(q, c, margin=0.1).item() == pytest.approx(hardest)
    mean_all = ((0.05 + 0) / 2 + (0 + 0.05) / 2 + (0 + 0) / 2) / 3
    assert triplet_loss(q, c, margin=0.1, negatives="mean_all").item() == pytest.approx(mean_all, abs=1e-6)


def test_diversity_zero_for_orthogonal_positive_for_identical():
    eye = torch.eye(4)[None].repeat(2, 1, 1)  # 4 orthogonal tokens
    assert diversity_loss(eye, training=False).item() == 0.0
    same = torch.ones(2, 4, 8)
    # Off-diagonal entries are 1 -> smooth-L1 (beta 0.5) = 1 - 0.25; mean over the 16 entries.
    assert diversity_loss(same, training=False).item() == pytest.approx(0.75 * 12 / 16)
    assert diversity_loss(same, kind="l1", training=False).item() == pytest.approx(12 / 16)
    assert diversity_loss(same, kind="l2", training=False).item() == pytest.approx(12 / 16)
    # Negative cosines are clipped to 0 and count nothing.
    opposite = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    assert diversity_loss(opposite, training=False).item() == 0.0


def test_diversity_dropout_is_unbiased_in_expectation():
    same = torch.full((1, 8, 4), 0.1)
    torch.manual_seed(1)
    # Inverted dropout keeps the mean of the L1 form: average over many draws ~ the no-dropout value.
    vals = torch.stack([diversity_loss(same, kind="l1", dropout=0.5) for _ in range(400)])
    assert vals.mean().item() == pytest.approx(
        diversity_loss(same, kind="l1", training=False).item(), rel=0.05
    )


def test_multi_vector_similarity_is_maxsim():
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    c = torch.tensor([[[1.0, 0.0], [0.6, 0.8]]])
    assert similarity(q, c).item() == pytest.approx((1.0 + 0.8) / 2)
    with pytest.raises(ValueError, match="both"):
        similarity(q, c[0])


def test_combined_objective_weights():
    q, c, tokens = unit(4, 8), unit(4, 8), torch.randn(3, 5, 8)
    terms = omniret_loss(q, c, tokens, training=False)
    expected = terms.contrastive + 1.0 * terms.triplet + 0.1 * terms.diversity
    torch.testing.assert_close(terms.total, expected)
    no_div = omniret_loss(q, c, tokens, LossConfig(diversity_weight=0.0), training=False)
    torch.testing.assert_close(no_div.total, terms.contrastive + terms.triplet)
    assert omniret_loss(q, c, None).diversity.item() == 0.0


def test_per_dataset_chunk_scope_equals_separate_losses_per_chunk():
    torch.manual_seed(0)
    q, c = unit(6, 8), unit(6, 8)
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    cfg = LossConfig(
        temperature=0.1, negatives_scope="per_dataset_chunk", triplet_weight=0.0, diversity_weight=0.0
    )
    got = omniret_loss(q, c, None, cfg, groups=groups).contrastive
    # Two equal chunks: the mean over queries is the mean of the two chunks' own losses.
    a = hard_negative_infonce(q[:3], c[:3], temperature=0.1, beta=0.5)
    b = hard_negative_infonce(q[3:], c[3:], temperature=0.1, beta=0.5)
    torch.testing.assert_close(got, (a + b) / 2)
    glob = omniret_loss(q, c, None, LossConfig(temperature=0.1), groups=groups).contrastive
    assert not torch.isclose(glob, got)  # the global scope ignores the groups
    with pytest.raises(ValueError, match="needs the groups"):
        omniret_loss(q, c, None, cfg)
    with pytest.raises(ValueError, match="negatives_scope"):
        LossConfig(negatives_scope="per_task")
