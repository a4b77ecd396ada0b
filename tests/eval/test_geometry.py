"""omniret.eval.geometry: cone width per modality, centroid gaps and hubness, on embeddings and
score matrices small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omniret.eval.geometry import (
    centroid,
    centroid_gap,
    geometry_report,
    hubness,
    k_occurrence,
    mean_pairwise_cosine,
    sample_indices,
    skewness,
    top_k,
    unit_rows,
)


def test_geometry_on_orthogonal_modalities():
    text = np.array([[1, 0, 0], [1, 0, 0]], dtype=np.float32)
    image = np.array([[0, 2, 0], [0, 3, 0]], dtype=np.float32)  # scaled: unit_rows normalises
    assert mean_pairwise_cosine(unit_rows(text)) == pytest.approx(1.0)
    assert mean_pairwise_cosine(unit_rows(image)) == pytest.approx(1.0)
    gap = centroid_gap(centroid(unit_rows(text)), centroid(unit_rows(image)))
    assert gap["cosine"] == pytest.approx(0.0) and gap["euclidean"] == pytest.approx(math.sqrt(2))
    spread = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float64)  # pair cosines 0, -1, 0
    assert mean_pairwise_cosine(spread) == pytest.approx(-1 / 3)
    assert mean_pairwise_cosine(spread[:1]) is None
    rng = np.random.default_rng(0)
    x = unit_rows(rng.normal(size=(7, 5)))
    gram = x @ x.T
    assert mean_pairwise_cosine(x) == pytest.approx((gram.sum() - np.trace(gram)) / 42)
    report = geometry_report(np.vstack([text, image]), ["text", "text", "image", "image"],
                             np.array([[1, 1, 0]]), ["text"], [[0, 1]], k=2, cap=1)  # fmt: skip
    assert report["modalities"]["text"] == {"n": 2, "n_sampled": 1, "mean_pairwise_cosine": None}
    assert [(g["a"], g["b"]) for g in report["centroid_gaps"]] == [
        ("image", "text"), ("image", "query:text"), ("text", "query:text")
    ]  # fmt: skip
    assert report["centroid_gaps"][1]["cosine"] == pytest.approx(1 / math.sqrt(2))


def test_hubness_on_a_hand_built_score_matrix():
    scores = np.array([[0.9, 0.8, 0.1, 0.0, 0.2],   # top 2: c0, c1
                       [0.7, 0.1, 0.9, 0.0, 0.3],   # c2, c0
                       [0.6, 0.2, 0.1, 0.5, 0.0],   # c0, c3
                       [0.1, 0.9, 0.2, 0.3, 0.8]])  # c1, c4   # fmt: skip
    top = top_k(scores, 2)
    assert top.tolist() == [[0, 1], [2, 0], [0, 3], [1, 4]]
    assert k_occurrence(top, 5).tolist() == [3, 2, 1, 1, 1]
    # mean 1.6, deviations 1.4, 0.4, -0.6 x3: m2 = 3.2 / 5 = 0.64, m3 = 2.16 / 5 = 0.432, skew = 0.432 / 0.8^3
    h = hubness(top, 5, k=2)
    assert h["max_k_occurrence"] == 3 and h["hub_index"] == 0 and h["hub_share"] == pytest.approx(3 / 4)
    assert h["skewness"] == pytest.approx(0.84375)
    assert skewness(np.array([2, 2, 2])) == 0.0
    assert top_k(np.array([[0.5, 0.5, 0.9]]), 2).tolist() == [[2, 0]]  # ties keep column order


def test_multi_vector_items_count_as_their_mean_direction_and_zero_rows_stay_zero():
    multi = np.array([[[3.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [0.0, 0.0]]])  # (n=2, V=2, D=2)
    got = unit_rows(multi)
    np.testing.assert_allclose(got, [[1 / math.sqrt(2), 1 / math.sqrt(2)], [0.0, 0.0]])
    assert centroid_gap(np.zeros(2), np.ones(2)) == {"cosine": None, "euclidean": pytest.approx(math.sqrt(2))}


def test_samples_are_capped_sorted_and_reproducible():
    assert sample_indices(4, 10).tolist() == [0, 1, 2, 3]  # under the cap: everything
    a, b = sample_indices(1000, 50, seed=3), sample_indices(1000, 50, seed=3)
    assert np.array_equal(a, b) and len(set(a.tolist())) == 50 and (np.diff(a) > 0).all()
    assert not np.array_equal(a, sample_indices(1000, 50, seed=4))


def test_hubness_without_queries_or_candidates_is_empty_not_an_error():
    h = hubness([], 5, k=3)
    assert (h["n_queries"], h["max_k_occurrence"], h["hub_index"], h["hub_share"]) == (0, 0, None, 0.0)
    assert k_occurrence([], 3).tolist() == [0, 0, 0]
