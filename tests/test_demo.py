"""`omniret demo` rebuilds its own index when the shipped weights change, and only its own."""

import json

import pytest

from omniret import demo
from omniret.index import IndexMismatchError
from omniret.index.store import SIDECAR


@pytest.fixture
def quiet_demo(monkeypatch, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "note.txt").write_text("A short note about a rooster crowing at dawn on the farm.")
    monkeypatch.setattr(demo, "gather", lambda media, log=print: None)
    monkeypatch.setattr(demo, "queries", lambda media: [])
    return media


def _fake_old_weights(db):
    meta = json.loads((db / SIDECAR).read_text())
    (db / SIDECAR).write_text(json.dumps({**meta, "weights_hash": "0000000000000000"}))


def test_demo_index_is_rebuilt_when_the_weights_change(quiet_demo, tmp_path):
    db, logs = tmp_path / "db", []
    demo.run(db, quiet_demo, log=logs.append)
    assert (db / demo.DEMO_MARKER).is_file()
    _fake_old_weights(db)
    demo.run(db, quiet_demo, log=logs.append)
    assert any("rebuilding" in line for line in logs)
    assert json.loads((db / SIDECAR).read_text())["weights_hash"] != "0000000000000000"
    assert any("1 new" in line for line in logs[-2:])  # the note was indexed again, once


def test_demo_never_deletes_an_index_it_did_not_create(quiet_demo, tmp_path):
    db = tmp_path / "db"
    demo.run(db, quiet_demo, log=lambda *_: None)
    (db / demo.DEMO_MARKER).unlink()
    _fake_old_weights(db)
    with pytest.raises(IndexMismatchError, match="was built with model"):
        demo.run(db, quiet_demo, log=lambda *_: None)
    assert (db / SIDECAR).is_file()


@pytest.fixture(scope="module")
def demo_tops(tmp_path_factory):
    """The real demo (sample media from packages, shipped weights) run twice; each search's best hit."""
    from pathlib import Path

    from omniret.index import Index

    tmp = tmp_path_factory.mktemp("demo")
    logs: list[str] = []
    db, media = tmp / "db", tmp / "media"
    demo.run(db, media, log=logs.append)
    ix = Index(db)
    top = {}
    for title, query, options in demo.queries(media):
        hit = ix.search(query, k=1, **options).hits[0]
        top[title] = (Path(hit.uri).name, hit.t0, hit.t1)
    demo.run(db, media, log=logs.append)
    return top, logs


def test_demo_end_to_end_finds_the_expected_media(demo_tops):
    """Each search's best hit is the item a person would pick, and a second run reuses the index."""
    top, logs = demo_tops
    # without a modality filter: the cat photo, or the video moment showing it (not the meow)
    assert top["text -> anything"] in {("cat-photo.png", None, None), ("pets.mp4", 0.0, 10.0)}
    assert top["image + text -> image"][0] == "fashion-sneaker.png"  # not the trouser it started from
    assert top["text -> video moment"] == ("pets.mp4", 10.0, 20.0)  # the dog half of the video
    assert top["text -> anything (passage)"][0] in {"notes.md", "coffee.png"}  # the note or the photo
    assert top["keywords -> what is said"][0] == "speech-hello-world.wav"  # its transcript has the words
    assert top["text -> PDF page (hybrid: meaning + keywords)"][0] == "shared-mime-info-spec.pdf"
    assert "indexed: 0 new, 0 changed, 18 unchanged files" in logs


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="omniret-small v3 since the demo holds a PDF (issue 15): the spec's 40 passages lower "
                   "the text rows' calibration mean, so notes.md (z +2.11; raw cosine 0.440, first by raw cosine "
                   "too) ranks above dog.mp3 (z +1.27, 0.306); calibration had hidden it (docs/RESULTS.md)")  # fmt: skip
def test_demo_dog_barking_finds_the_dog(demo_tops):
    top, _ = demo_tops
    assert top["text -> anything (sound)"][0] == "dog.mp3" or top["text -> anything (sound)"] == (
        "pets.mp4",
        10.0,
        20.0,
    )


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="omniret-small v3: the cat recording with 'Retrieve an image that matches the query.' "
                   "ranks rocket.jpg first (0.450); v2 found cat-photo.png (docs/RESULTS.md)")  # fmt: skip
def test_demo_audio_query_finds_the_cat_photo(demo_tops):
    top, _ = demo_tops
    assert top["audio -> image"][0] == "cat-photo.png"
