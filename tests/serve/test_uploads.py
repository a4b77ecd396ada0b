"""Ingest through the server: uploads and allowed server-side paths become searchable; deletion."""

from __future__ import annotations

import time

import httpx2 as httpx
import numpy as np
import pytest
from PIL import Image

from omniret.serve.uploads import safe_name


def wait(server, job: dict) -> dict:
    deadline = time.monotonic() + 120
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = httpx.get(server.url + job["status_url"] if "status_url" in job else
                        f"{server.url}/v1/jobs/{job['id']}").json()  # fmt: skip
    return job


def png(path, seed: int):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(path)
    return path


def test_uploaded_file_is_indexed_found_and_deleted(server, tmp_path):
    picture = png(tmp_path / "upload me.png", 42)
    with picture.open("rb") as f:
        r = httpx.post(
            server.url + "/v1/items", files=[("files", ("../../evil/upload me.png", f, "image/png"))]
        )
    assert r.status_code == 202, r.text
    job = wait(server, r.json())
    assert job["state"] == "done" and len(job["added"]) == 1 and job["files_done"] == job["files_total"] == 1
    assert (
        job["added"][0].endswith("/upload me.png") and "evil" not in job["added"][0]
    )  # no path from the client
    query = {"type": "image_url", "image_url": {"url": "data:image/png;base64,"
             + __import__("base64").b64encode(picture.read_bytes()).decode()}}  # fmt: skip
    hits = httpx.post(server.url + "/v1/search", json={"query": query, "k": 1, "modality": "image"}).json()[
        "hits"
    ]
    assert hits[0]["name"] == "upload me.png"
    assert httpx.get(server.url + hits[0]["media_url"]).content == picture.read_bytes()
    gone = httpx.delete(f"{server.url}/v1/items/{hits[0]['asset_id']}")
    assert gone.status_code == 200 and gone.json()["rows"] == 1
    assert httpx.get(server.url + hits[0]["media_url"]).status_code == 404
    assert httpx.delete(f"{server.url}/v1/items/{hits[0]['asset_id']}").status_code == 404


def test_upload_refusals_name_the_file(server, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    with junk.open("rb") as f:
        r = httpx.post(server.url + "/v1/items", files=[("files", ("junk.bin", f, "image/png"))])
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("files[0] (junk.bin): the bytes are no image")
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(2 << 20))
    with big.open("rb") as f:
        r = httpx.post(server.url + "/v1/items", files=[("files", ("big.png", f, "image/png"))])
    assert r.status_code == 413 and "per-item limit of 1,048,576 bytes" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/v1/items", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert httpx.get(server.url + "/v1/jobs/nope").status_code == 404


def test_server_side_paths_only_below_allowed_roots(server, library, tmp_path):
    outside = png(tmp_path / "outside.png", 7)
    r = httpx.post(server.url + "/v1/items", json={"paths": [str(outside)]})
    assert r.status_code == 403 and "paths[0]" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/v1/items", json={"paths": [str(library / ".." / outside.parent.name)]})
    assert r.status_code == 403
    r = httpx.post(server.url + "/v1/items", json={"paths": [str(library)]})
    assert r.status_code == 202
    job = wait(server, r.json())
    assert job["state"] == "done" and job["unchanged"] == 6  # the library is already indexed


@pytest.mark.parametrize(("given", "kind", "expected"), [
    ("../../etc/passwd", "text", "passwd"), ("C:\\Users\\me\\cat.png", "image", "cat.png"),
    ("..", "image", "upload.image"), (None, "text", "upload.txt"), ("a;rm -rf $(x).wav", "audio", "a_rm -rf _x_.wav"),
])  # fmt: skip
def test_safe_name(given, kind, expected):
    assert safe_name(given, kind) == expected


def test_an_uploaded_pdf_is_found_by_page_and_its_page_thumbnail_served(server, tmp_path):
    from tests.helpers.pdf import make_pdf, text_content

    pdf = make_pdf(
        tmp_path / "minutes.pdf", [text_content("Agenda."), text_content("The harbour budget passed.")]
    )
    with pdf.open("rb") as f:
        r = httpx.post(
            server.url + "/v1/items", files=[("files", ("minutes", f, "application/octet-stream"))]
        )
    assert r.status_code == 202, r.text
    job = wait(server, r.json())
    assert job["state"] == "done" and job["added"][0].endswith("/minutes"), job  # recognised by its bytes
    hits = httpx.post(server.url + "/v1/search", json={"query": "harbour budget", "mode": "keyword"}).json()[
        "hits"
    ]
    assert [(h["name"], h["page"], h["modality"]) for h in hits] == [("minutes", 2, "text")]
    pages = httpx.post(server.url + "/v1/search", json={"query": "minutes", "mode": "keyword", "modality": "image",
                                                       "k": 5}).json()["hits"]  # fmt: skip
    assert sorted(h["page"] for h in pages) == [1, 2]  # the file name finds both page images
    thumb = httpx.get(server.url + pages[0]["keyframe_url"])
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert httpx.delete(f"{server.url}/v1/items/{hits[0]['asset_id']}").json()["rows"] == 4
