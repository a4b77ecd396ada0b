"""What the indexer stores as words, end to end with the tiny checkpoint: PDF pages and passages, sidecar
subtitles and Whisper transcripts per moment, and a keyword index that follows every re-index."""

from __future__ import annotations

import json

import pytest

from omniret.index import Index
from omniret.index.indexer import Indexer
from tests.helpers.media import write_video
from tests.helpers.pdf import FILLED_RECTANGLE, encrypted_pdf, make_pdf, text_content, truncated_pdf
from tests.index.conftest import index

pytest.importorskip("lancedb")


def table_rows(ix, *cols) -> list[dict]:
    t = ix.store.table().to_arrow().sort_by([("uri", "ascending"), ("segment_id", "ascending")])
    return t.select(list(cols)).to_pylist()


def found(ix, words: str, **kw) -> list[tuple]:
    return [
        (h.uri.rsplit("/", 1)[-1], h.segment_id) for h in ix.search(words, mode="keyword", k=20, **kw).hits
    ]


def test_a_pdf_becomes_page_images_and_passages_and_bad_pdfs_are_reported(tmp_path, ckpt):
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(
        docs / "report.pdf", [text_content("Harbour traffic grew."), text_content("The quarterly budget.")]
    )
    encrypted_pdf(docs / "locked.pdf", [text_content("secret")])
    truncated_pdf(docs / "broken.pdf", [text_content("lost")])
    make_pdf(docs / "scan.pdf", [FILLED_RECTANGLE, text_content("Printed words.")])
    (docs / "note.txt").write_text("the crane is yellow\n")
    ix = index(tmp_path / "db", ckpt)
    report = ix.add([docs])
    skipped = dict(report.skipped)
    assert set(skipped) == {str(docs / "locked.pdf"), str(docs / "broken.pdf")}
    assert (
        "encrypted" in skipped[str(docs / "locked.pdf")]
        and "damaged PDF" in skipped[str(docs / "broken.pdf")]
    )
    assert report.warnings == [(str(docs / "scan.pdf"), f"{docs / 'scan.pdf'}: no text on page 1 (scanned or drawn?): "
                                                        "indexed as page images only")]  # fmt: skip
    pdf = [r for r in table_rows(ix, "uri", "segment_id", "modality", "page", "text", "keyframe")
           if r["uri"].endswith("report.pdf")]  # fmt: skip
    assert [(r["segment_id"], r["modality"], r["page"]) for r in pdf] == [
        ("page1", "image", 1), ("page1-p0", "text", 1), ("page2", "image", 2), ("page2-p0", "text", 2)]  # fmt: skip
    assert pdf[3]["text"] == "The quarterly budget."
    assert pdf[0]["keyframe"][:2] == b"\xff\xd8" and pdf[1]["keyframe"] is None  # the page's thumbnail
    assert found(ix, "budget") == [("report.pdf", "page2-p0")]  # the page image is not found by its snippet
    assert sorted(found(ix, "report")) == [
        ("report.pdf", s) for s in ("page1", "page1-p0", "page2", "page2-p0")
    ]
    grouped = ix.search("report", mode="keyword", k=5, group_by_asset=True).hits
    assert [h.uri for h in grouped] == [str(docs / "report.pdf")]
    meta = json.loads((tmp_path / "db" / "omniret.json").read_text())
    assert (
        meta["keywords"]["scoring"] == "bm25" and meta["speech"]["transcripts"] == "off"
    )  # tiny model: no ASR


def test_subtitles_beside_a_video_are_aligned_to_its_moments_and_searchable(tmp_path, ckpt):
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "talk.mp4", [(200, 0, 0)] * 22, fps=2, size=32)  # 22 s: moments 0-10, 10-20, 12-22
    (media / "talk.en.srt").write_text("1\n00:00:02,000 --> 00:00:04,000\nwelcome to the harbour\n\n"
                                       "2\n00:00:09,000 --> 00:00:12,500\nthe crane lifts containers\n")  # fmt: skip
    ix = index(tmp_path / "db", ckpt)
    assert ix.add([media]).skipped == []
    got = {r["segment_id"]: r for r in table_rows(ix, "segment_id", "speech", "speech_lang", "speech_source")}
    assert got["0.00-10.00"]["speech"] == "welcome to the harbour the crane lifts containers"
    assert (
        got["10.00-20.00"]["speech"] == got["12.00-22.00"]["speech"] == "the crane lifts containers"
    )  # 0.5 s
    assert got["whole"]["speech"] == "welcome to the harbour the crane lifts containers"
    copies = ix.stats()["stored_copies"]
    assert (copies["speech"], copies["keywords"]) == (4, 4)  # whole + 3 moments: all said something
    assert {(got[s]["speech_lang"], got[s]["speech_source"]) for s in ("whole", "0.00-10.00")} == {
        ("en", "subtitles")
    }
    assert sorted(found(ix, "containers")) == [("talk.mp4", s) for s in ("0.00-10.00", "10.00-20.00", "12.00-22.00",
                                                                         "whole")]  # fmt: skip
    assert found(ix, "harbour", modalities=["video"])[0][0] == "talk.mp4"
    (media / "talk.en.srt").write_text("1\n00:00:15,000 --> 00:00:16,000\nrevised words\n")
    assert ix.add([media]).replaced == [str(media / "talk.mp4")]  # its subtitles changed: re-indexed
    assert found(ix, "containers") == [] and sorted(found(ix, "revised")) == [
        ("talk.mp4", s) for s in ("10.00-20.00", "12.00-22.00", "whole")]  # fmt: skip


def test_spoken_words_are_transcribed_per_window_and_found_by_keyword_and_hybrid(tmp_path, ckpt):
    from omniret.assets import asset_path
    from omniret.towers.packaged import WhisperCT2Tower
    from tests.helpers.speech import spoken_wav

    media = tmp_path / "media"
    media.mkdir()
    spoken_wav(media / "meeting.wav", "the quarterly budget meeting starts at noon", lead_silence=12.0)
    (media / "other.txt").write_text("a recipe for lemon cake\n")
    ix = index(tmp_path / "db", ckpt)
    whisper = WhisperCT2Tower(path=asset_path("whisper-tiny-en"))
    report = Indexer(ix.store, ix.model, transcriber=whisper).add([media])
    assert report.skipped == [] and report.warnings == []
    rows = {r["segment_id"]: r for r in table_rows(ix, "uri", "segment_id", "speech", "speech_source")
            if r["uri"].endswith("meeting.wav")}  # fmt: skip
    assert rows["0.00-10.00"]["speech"] is None  # silence only: nothing said in the first window
    said = {s for s, r in rows.items() if r["speech"] and "budget" in r["speech"].lower()}
    # spoken from ~12 s on: every window reaching past 12 s (and the whole row) says it, no other does
    assert said == {s for s in rows if s == "whole" or float(s.split("-")[1]) > 12.5} and len(said) >= 2
    assert {rows[s]["speech_source"] for s in said} == {"asr"}
    assert found(ix, "budget") and {f for f, _ in found(ix, "budget")} == {"meeting.wav"}
    hybrid = ix.search("quarterly budget", mode="hybrid", k=3).hits
    assert hybrid[0].uri.endswith("meeting.wav") and hybrid[0].keyword_score is not None
    meta = json.loads((tmp_path / "db" / "omniret.json").read_text())
    assert meta["speech"]["transcripts"].startswith("WhisperCT2Tower (greedy")


def test_re_indexing_keeps_the_keyword_index_consistent(tmp_path, ckpt):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("the old harbour crane\n")
    (notes / "b.txt").write_text("lemon cake recipe\n")
    ix = index(tmp_path / "db", ckpt)
    ix.add([notes])
    assert found(ix, "crane") == [("a.txt", "p0")]
    (notes / "a.txt").write_text("a bicycle with a bell\n")  # changed: its old words must go
    ix.add([notes])
    assert found(ix, "crane") == [] and found(ix, "bicycle") == [("a.txt", "p0")]
    (notes / "b.txt").unlink()
    ix.add([notes], prune=True)  # deleted: gone from the keyword index too
    assert found(ix, "lemon") == [] and found(ix, "b") == []
    assert Index(tmp_path / "db").search("bicycle", mode="keyword").hits[0].uri == str(notes / "a.txt")


def test_a_recording_too_long_to_encode_whole_gets_its_words_on_the_pooled_whole_row(tmp_path, ckpt):
    from omniret.api import load_model
    from tests.helpers.media import sine, write_audio

    media = tmp_path / "media"
    media.mkdir()
    write_audio(media / "long.wav", sine(330, 30.0, 16000), 16000)  # over the 20 s limit set below
    (media / "long.srt").write_text("1\n00:00:03,000 --> 00:00:04,000\nfirst words\n\n"
                                    "2\n00:00:25,000 --> 00:00:26,000\nlast words\n")  # fmt: skip
    model = load_model(ckpt, cache=False, overrides=["media.max_audio_seconds=20"])
    ix = Index(tmp_path / "db", model=model)
    assert ix.add([media]).skipped == []
    got = {r["segment_id"]: r["speech"] for r in table_rows(ix, "segment_id", "speech")}
    assert got["whole"] == "first words last words"  # pooled from the windows, words from the cues
    assert got["0.00-10.00"] == "first words" and got["20.00-30.00"] == "last words"
