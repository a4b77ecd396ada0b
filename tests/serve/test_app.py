"""The app's guards: API key, body limits, health, readiness and metrics."""

from __future__ import annotations

import httpx2 as httpx

from tests.serve.conftest import KEY


def test_key_required_on_data_routes_and_no_detail_leaked(keyed_server):
    url = keyed_server.url
    missing = httpx.post(url + "/v1/embeddings", json={"input": "x"})
    wrong = httpx.post(
        url + "/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer " + KEY[:-1]}
    )
    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == wrong.json()  # a near miss tells nothing more than no key
    assert missing.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url + "/media/0123456789abcdef").status_code == 401
    assert httpx.get(url + "/metrics").status_code == 401
    ok = httpx.post(url + "/v1/embeddings", json={"input": "x"}, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200
    assert httpx.get(url + "/healthz").status_code == 200  # process up: no data, no key
    assert httpx.get(url + "/").status_code == 200  # the page itself holds no data


def test_no_key_configured_means_open(server):
    assert httpx.post(server.url + "/v1/embeddings", json={"input": "x"}).status_code == 200


def test_body_over_the_limit_is_413_with_the_limit(server):
    r = httpx.post(server.url + "/v1/embeddings", content=b"{" + b" " * (3 << 20) + b"}",
                   headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413
    assert "3,145,728 bytes" in r.json()["error"]["message"]


def test_chunked_body_over_the_limit_is_413(server):
    def chunks():
        for _ in range(4):
            yield b" " * (1 << 20)

    r = httpx.post(
        server.url + "/v1/embeddings", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "over the limit of 3,145,728 bytes" in r.json()["error"]["message"]


def test_a_bad_request_does_not_poison_the_next(server):
    bad = httpx.post(
        server.url + "/v1/embeddings", json={"input": ["data:audio/wav;base64,UklGRgAAAABXQVZF"]}
    )
    assert bad.status_code == 400
    good = httpx.post(server.url + "/v1/embeddings", json={"input": ["fine"]})
    assert good.status_code == 200 and len(good.json()["data"]) == 1


def test_readyz_and_metrics(server):
    assert httpx.get(server.url + "/readyz").json()["status"] == "ready"
    httpx.post(server.url + "/v1/embeddings", json={"input": ["counted"]})
    text = httpx.get(server.url + "/metrics").text
    assert 'omniret_requests_total{route="/v1/embeddings",status="200"}' in text
    assert "omniret_batch_inputs_bucket" in text and "omniret_request_seconds_bucket" in text
    assert 'route="/media/*"' not in text or "0123" not in text  # ids never become labels


def test_unknown_route_is_a_json_404(server):
    r = httpx.get(server.url + "/v2/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
