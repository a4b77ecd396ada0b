"""The JSON API through real clients: the stock ``openai`` client and plain HTTP."""

from __future__ import annotations

import base64
import re

import httpx2 as httpx
import numpy as np
import openai
import pytest

from omniret.inputs import OmniInput


def uri(path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def test_openai_client_base64_default_and_float_agree_with_encode(client, served_model):
    texts = ["a cat on a windowsill", "rockets"]
    default = client.embeddings.create(model=served_model.model_id, input=texts)  # the client asks for base64
    floats = client.embeddings.create(model=served_model.model_id, input=texts, encoding_format="float")
    expected = served_model.encode([OmniInput(text=t) for t in texts])
    for resp in (default, floats):
        got = np.array([d.embedding for d in resp.data], dtype=np.float32)
        assert got.shape == (2, served_model.dim)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert [d.index for d in resp.data] == [0, 1]
    assert default.usage.prompt_tokens == 6  # words of the two texts


def test_data_uri_image_through_extra_body_modality(client, served_model, library):
    resp = client.embeddings.create(model=served_model.model_id, input=[uri(library / "img1.png", "image/png")],
                                    extra_body={"modality": "image"})  # fmt: skip
    expected = served_model.encode([OmniInput(image=(library / "img1.png").read_bytes())])
    np.testing.assert_allclose(np.array(resp.data[0].embedding), expected[0], atol=1e-5)


def test_content_parts_are_one_composed_input(server, served_model, library):
    parts = [{"type": "image_url", "image_url": {"url": uri(library / "img0.png", "image/png")}},
             {"type": "text", "text": "but with a red border"}]  # fmt: skip
    r = httpx.post(server.url + "/v1/embeddings", json={"input": [parts], "instruction": "Find the image."})
    assert r.status_code == 200, r.text
    expected = served_model.encode([OmniInput(image=(library / "img0.png").read_bytes(), text="but with a red border",
                                              instruction="Find the image.")])  # fmt: skip
    np.testing.assert_allclose(np.array(r.json()["data"][0]["embedding"]), expected[0], atol=1e-5)


def test_input_audio_part(server, served_model, library):
    data = base64.b64encode((library / "tone.wav").read_bytes()).decode()
    r = httpx.post(server.url + "/v1/embeddings",
                   json={"input": {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}})  # fmt: skip
    assert r.status_code == 200, r.text
    expected = served_model.encode([OmniInput(audio=(library / "tone.wav").read_bytes())])
    np.testing.assert_allclose(np.array(r.json()["data"][0]["embedding"]), expected[0], atol=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input": ["x"], "dimensions": 8}, 400, "dimensions: .* was not trained to be shortened"),
        ({"input": ["x"], "model": "gpt-embed"}, 404, "model 'gpt-embed' is not served here"),
        ({"input": [1, 2, 3]}, 400, "token ids are not accepted"),
        ({"input": []}, 400, "input must be a string or a non-empty list"),
        ({"input": ["data:image/png;base64,iVBO"]}, 400, r"input\[0\]: the bytes are no image"),
        ({"input": ["data:image/png;base64,@@@"]}, 400, r"input\[0\]: the data is not valid base64"),
        (
            {"input": [[{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]]},
            400,
            r"input\[0\]\[0\]\.image_url\.url: only data:",
        ),
        ({"input": [[{"type": "image_url", "image_url": "/etc/passwd"}]]}, 400, r"image_url: only data:"),
        ({"input": [{"type": "hologram"}]}, 400, r"input\[0\]\[0\]\.type: expected one of text"),
        ({"input": ["/etc/passwd"], "modality": "image"}, 400, "needs a data:<mime>;base64"),
        ({"input": ["x"] * 9}, 413, "input has 9 items; the limit is 8"),
        ({"input": ["x"], "encoding_format": "int8"}, 400, "encoding_format"),
        ({"input": ["x"], "temperature": 1}, 400, "temperature"),
    ],
)
def test_bad_embedding_requests_name_the_field(server, body, status, message):
    r = httpx.post(server.url + "/v1/embeddings", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert re.search(message, err["message"]), err
    assert err["type"] == ("request_too_large" if status == 413 else "not_found_error" if status == 404
                           else "invalid_request_error")  # fmt: skip


def test_declared_type_must_match_the_bytes(server, library):
    wav_as_png = uri(library / "tone.wav", "image/png")
    r = httpx.post(server.url + "/v1/embeddings", json={"input": [wav_as_png]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "input[0]: declared image/png but the bytes are audio"


def test_medium_over_the_item_limit_is_413(server):
    big = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(2 << 20)).decode()
    r = httpx.post(server.url + "/v1/embeddings", json={"input": [big]})
    assert r.status_code == 413
    assert "above the per-item limit of 1,048,576 bytes" in r.json()["error"]["message"]


def test_models_lists_the_served_model(server, served_model):
    data = httpx.get(server.url + "/v1/models").json()["data"]
    assert [(m["id"], m["dim"], m["weights_hash"]) for m in data] == [
        (served_model.model_id, served_model.dim, served_model.weights_hash)
    ]


def test_search_finds_an_indexed_image_by_its_own_bytes(server, library):
    body = {"query": {"type": "image_url", "image_url": {"url": uri(library / "img2.png", "image/png")}},
            "k": 3, "modality": "image"}  # fmt: skip
    r = httpx.post(server.url + "/v1/search", json=body)
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits[0]["name"] == "img2.png" and hits[0]["modality"] == "image"
    assert all(h["modality"] == "image" for h in hits) and len(hits) == 3
    assert hits[0]["media_url"] == f"/media/{hits[0]['asset_id']}"


def test_search_rejects_bad_options_by_name(server):
    for body, message in [({"query": "x", "k": 0}, "k must be between 1 and 50"),
                          ({"query": "x", "modality": "smell"}, "modality 'smell'"),
                          ({"query": "x", "where": "uri = 'a' --"}, "filter")]:  # fmt: skip
        r = httpx.post(server.url + "/v1/search", json=body)
        assert r.status_code == 400 and message in r.json()["error"]["message"], r.text


def test_search_by_keyword_and_hybrid_says_how_it_ranked(server):
    r = httpx.post(server.url + "/v1/search", json={"query": "windowsill", "mode": "keyword", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["name"] for h in body["hits"]] == ["notes.md"]  # the only row with the word
    assert body["ranking"] == {"mode": "keyword", "scoring": "bm25", "column": "keywords"}
    r = httpx.post(server.url + "/v1/search", json={"query": "windowsill", "mode": "hybrid", "k": 3})
    body = r.json()
    assert body["ranking"]["fusion"] == "rrf" and body["hits"][0]["name"] == "notes.md"
    assert body["hits"][0]["keyword_score"] > 0 and body["hits"][0]["dense_score"] is not None


def test_search_modes_and_rerank_are_checked_by_name(server, library):
    image = {"type": "image_url", "image_url": {"url": uri(library / "img2.png", "image/png")}}
    for body, message in [({"query": "x", "mode": "fuzzy"}, "mode"),
                          ({"query": image, "mode": "keyword"}, "keyword search needs words"),
                          ({"query": "x", "rerank": 0}, "rerank must be between 1 and 100")]:  # fmt: skip
        r = httpx.post(server.url + "/v1/search", json=body)
        assert r.status_code in (400, 422) and message in r.json()["error"]["message"], r.text


def test_search_reranks_the_first_stage(server):
    r = httpx.post(server.url + "/v1/search", json={"query": "cats", "k": 3, "rerank": 6})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ranking"]["rerank"]["top"] == 6
    scores = [h["rerank_score"] for h in body["hits"] if h["rerank_score"] is not None]
    assert scores == sorted(scores, reverse=True) and len(body["hits"]) == 3
