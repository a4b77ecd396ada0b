"""``/media``: indexed files by id only, byte ranges, keyframes."""

from __future__ import annotations

import httpx2 as httpx
import pytest


def asset(server, name: str) -> dict:
    hits = httpx.post(server.url + "/v1/search", json={"query": name, "k": 50}).json()["hits"]
    return next(h for h in hits if h["name"] == name)


def test_range_requests_return_the_exact_bytes(server, library):
    hit = asset(server, "clip.mp4")
    data = (library / "clip.mp4").read_bytes()
    whole = httpx.get(server.url + hit["media_url"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(server.url + hit["media_url"], headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == data[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(data)}"
    tail = httpx.get(server.url + hit["media_url"], headers={"Range": "bytes=-16"})
    assert tail.content == data[-16:]


def test_text_is_served_as_plain_text_never_sniffed(server):
    hit = asset(server, "notes.md")
    r = httpx.get(server.url + hit["media_url"])
    assert r.headers["content-type"].startswith("text/plain") or r.headers["content-type"].startswith(
        "text/markdown"
    )
    assert r.headers["x-content-type-options"] == "nosniff"


def test_keyframe_of_a_video_moment_is_a_jpeg(server):
    hit = asset(server, "clip.mp4")
    assert hit["keyframe_url"]
    r = httpx.get(server.url + hit["keyframe_url"])
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("bad", ["0123456789abcdef", "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
                                 "%2Fetc%2Fpasswd", "/etc/passwd", "ABCDEF0123456789", "notes.md"])  # fmt: skip
def test_only_indexed_ids_are_served(server, bad):
    r = httpx.get(server.url + "/media/" + bad)
    assert r.status_code == 404
    assert "root:" not in r.text
