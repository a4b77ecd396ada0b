"""``index/rerank.py``: MaxSim on hand-computed tokens; hits re-ordered by the late interaction of the
composer's token states (checked against an independent computation), only the first ``top`` re-scored,
rows that cannot be recomputed kept and flagged after the re-scored ones, baselines refused clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from omniret.baselines.bridge import BridgeCaption
from omniret.baselines.dual import DualEncoder
from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.errors import InputError
from omniret.index.rerank import (
    SKIPPED,
    RerankUnsupportedError,
    candidate_input,
    maxsim,
    rerank,
    supports_rerank,
)
from omniret.index.search import Hit
from omniret.inputs import OmniInput, Sample
from omniret.inputs.sample import render
from omniret.losses import similarity
from tests.helpers.media import sine, write_audio

TEXTS = ["a cat sleeps on the mat", "rockets launch at dawn", "the cat chased a mouse",
         "quarterly budget report", "cats and dogs", "a recipe for bread"]  # fmt: skip
QUERY = OmniInput(text="a sleepy cat", instruction="Find the text.")


def hit(i: int, *, text: str | None = None, uri: str | None = None, modality: str = "text", t0=None, t1=None,
        segment_id: str = "p0") -> Hit:  # fmt: skip
    return Hit(score=1.0 - 0.01 * i, uri=uri or f"/notes/{i}.md", modality=modality, t0=t0, t1=t1,
               asset_id=f"a{i}", segment_id=segment_id, text=text, meta={"album": "x"})  # fmt: skip


def text_hits() -> list[Hit]:
    return [hit(i, text=t) for i, t in enumerate(TEXTS)]


def expected_order(model, hits: list[Hit]) -> list[str]:
    """First-stage positions sorted by MaxSim of independently computed token states (ties: position)."""
    q = model.token_states([QUERY])[0]
    scores = [maxsim(q, model.token_states([OmniInput(text=h.text)])[0]) for h in hits]
    return [hits[i].uri for i in sorted(range(len(hits)), key=lambda i: (-scores[i], i))]


def test_maxsim_of_a_hand_computed_example():
    q = np.array([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]], np.float32)  # (2, 3)
    c = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], np.float32)  # (3, 3)
    # q @ c.T = [[1, 0, 0], [0, .6, .8]]: best per query token 1 and .8, mean .9 (the sum would be 1.8)
    assert maxsim(q, c) == pytest.approx(0.9)
    assert maxsim(q, c[1:]) == pytest.approx((0.0 + 0.8) / 2)
    c3 = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], np.float32)
    assert maxsim(q, c3) == pytest.approx((0.6 + 0.8) / 2)
    lossy = similarity(torch.from_numpy(q)[None], torch.from_numpy(c3)[None])  # the trained MaxSim agrees
    assert float(lossy) == pytest.approx(maxsim(q, c3))
    with pytest.raises(ValueError, match="token matrices"):
        maxsim(q, c[:, :2])


def test_rerank_orders_hits_by_maxsim_of_token_states(model):
    hits = text_hits()
    out = rerank(model, QUERY, hits, batch_size=4)
    assert [h.uri for h in out] == expected_order(model, hits)
    q = model.token_states([QUERY])[0]
    for h in out:
        assert h.rerank_score == pytest.approx(
            maxsim(q, model.token_states([OmniInput(text=h.text)])[0]), abs=1e-5
        )
        assert h.score == hits[int(h.asset_id[1:])].score and SKIPPED not in h.meta  # first stage kept
    assert all(h.rerank_score is None for h in hits)  # the caller's hits are not modified
    assert len({round(h.rerank_score, 6) for h in out}) == len(out)


def test_top_limits_which_hits_are_rescored(model):
    hits = text_hits()
    out = rerank(model, QUERY, hits, top=3)
    assert [h.uri for h in out[:3]] == expected_order(model, hits[:3])
    assert out[3:] == hits[3:] and all(a is b for a, b in zip(out[3:], hits[3:], strict=True))
    assert all(h.rerank_score is not None for h in out[:3]) and all(h.rerank_score is None for h in out[3:])
    assert rerank(model, QUERY, [], top=3) == []
    for bad in (0, -1, True, 2.5):
        with pytest.raises(InputError, match="top"):
            rerank(model, QUERY, hits, top=bad)


def test_rows_that_cannot_be_recomputed_are_kept_and_flagged_after_the_rescored(model, tmp_path):
    good, corrupt = tmp_path / "good.png", tmp_path / "corrupt.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(good)
    corrupt.write_bytes(b"not a png at all")
    wav = write_audio(tmp_path / "tone.wav", sine(440, 3.0, 16000), 16000)
    hits = [
        hit(0, uri=str(tmp_path / "gone.png"), modality="image", segment_id="image"),
        hit(1, text=TEXTS[0]),
        hit(2, uri=str(corrupt), modality="image", segment_id="image"),  # fails inside a batch with good.png
        hit(3, uri=str(good), modality="image", segment_id="image"),
        hit(4, uri=str(wav), modality="audio", t0=1.0, t1=2.5, segment_id="1.00-2.50"),
        hit(5, text=None),
    ]
    out = rerank(model, QUERY, hits)
    assert len(out) == len(hits)
    assert {h.uri for h in out[:3]} == {hits[1].uri, str(good), str(wav)}
    assert all(h.rerank_score is not None for h in out[:3]) and out[0].rerank_score >= out[2].rerank_score
    skipped = out[3:]
    assert [h.asset_id for h in skipped] == ["a0", "a2", "a5"]  # first-stage order among themselves
    assert all(h.rerank_score is None for h in skipped)
    assert skipped[0].meta == {"album": "x", SKIPPED: "file not found"}
    assert skipped[1].meta[SKIPPED] and skipped[1].meta["album"] == "x"  # the decoder's reason
    assert "no text" in skipped[2].meta[SKIPPED]
    assert SKIPPED not in hits[0].meta  # a copy was flagged


def test_candidate_inputs_are_rebuilt_from_the_row(tmp_path):
    wav = write_audio(tmp_path / "tone.wav", sine(440, 1.0, 16000), 16000)
    assert candidate_input(hit(0, text="hello")) == OmniInput(text="hello")
    window = candidate_input(hit(1, uri=str(wav), modality="audio", t0=0.0, t1=0.5, segment_id="0.00-0.50"))
    assert window.audio == wav and window.span == (0.0, 0.5)
    whole = candidate_input(hit(2, uri=str(wav), modality="video", t0=0.0, t1=1.0, segment_id="whole"))
    assert whole.video == wav and whole.span is None
    page = hit(3, uri=str(wav), modality="image", segment_id="image")
    page.page = 2  # a document page row (a future column)
    assert "document page" in candidate_input(page)


def test_token_states_hold_every_real_token_as_a_unit_row(model, tmp_path):
    composer, c = model.model.composer, model.model.config.composer
    texts = ["a cat", "a much longer sentence about several cats sleeping on warm mats"]
    got = model.token_states([OmniInput(text=t) for t in texts] + [QUERY], batch_size=2)
    for t, instruction, tokens in zip(
        [*texts, QUERY.text], [None, None, QUERY.instruction], got, strict=True
    ):
        rendered = render(
            Sample(text=t, instruction=instruction), template=c.template, normalize=c.normalize_text
        )
        assert tokens.shape == (len(composer.tokenizer(rendered)["input_ids"]), model.model.config.dim)
        assert tokens.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(tokens, axis=1), 1.0, atol=1e-5)
    img = tmp_path / "i.png"
    Image.new("RGB", (20, 20), (200, 10, 10)).save(img)
    [image_tokens] = model.token_states([OmniInput(image=img)])
    m = model.model.config.resampler.num_latents
    assert image_tokens.shape[0] == len(composer.prefix_ids) + m + len(composer.suffix_ids)


@pytest.mark.parametrize("kind", ["random", "fusion", "bridge", "dual"])
def test_models_without_token_states_are_refused_clearly(model, kind):
    other = {"random": lambda: RandomRanker(), "fusion": lambda: ScoreFusion(model),
             "bridge": lambda: object.__new__(BridgeCaption), "dual": lambda: object.__new__(DualEncoder)}[kind]()  # fmt: skip
    assert supports_rerank(model) and not supports_rerank(other)
    with pytest.raises(RerankUnsupportedError, match="rerank needs an OmniRet model") as err:
        rerank(other, QUERY, text_hits())
    assert isinstance(err.value, InputError)


def test_rerank_of_a_real_search(model, tmp_path):
    from omniret.index import Index

    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.md").write_text("Cats sleep all day.\n\nRockets fly to orbit.\n")
    (root / "todo.txt").write_text("Buy bread.\n")
    Image.new("RGB", (24, 24), (0, 90, 200)).save(root / "blue.png")
    ix = Index(tmp_path / "ix", model=model)
    ix.add([root])
    first = ix.search(QUERY, k=10).hits
    out = rerank(model, QUERY, first)
    assert len(first) == 3 and {h.modality for h in first} == {"text", "image"}
    assert sorted((h.uri, h.segment_id) for h in out) == sorted((h.uri, h.segment_id) for h in first)
    assert all(h.rerank_score is not None for h in out)  # every stored row could be recomputed
    assert [h.rerank_score for h in out] == sorted((h.rerank_score for h in out), reverse=True)
