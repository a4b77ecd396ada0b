"""Metadata sidecars: which file wins, and a bad one is warned about, never fatal."""

from __future__ import annotations

from omniret.index.indexer import IndexReport
from omniret.index.metadata import sidecar_meta


def test_a_metadata_sidecar_beside_the_file_is_read_and_a_bad_one_warned_about(tmp_path):
    """``photo.png.json`` wins over ``photo.json``; one that is not a JSON object is ignored, said so."""
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    assert sidecar_meta(photo) == {}
    (tmp_path / "photo.json").write_text('{"from": "stem"}')
    assert sidecar_meta(photo) == {"from": "stem"}
    (tmp_path / "photo.png.json").write_text('{"from": "full name"}')
    assert sidecar_meta(photo) == {"from": "full name"}
    (tmp_path / "photo.png.json").write_text("[1, 2]")
    report = IndexReport()
    assert sidecar_meta(photo, report) == {}
    assert report.warnings == [(str(photo), f"metadata sidecar {tmp_path / 'photo.png.json'} is not a JSON "
                                             "object: ignored")]  # fmt: skip
