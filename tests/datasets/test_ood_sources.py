"""omniret.datasets.ood_sources: each out-of-domain loader takes the files its docstring names from the
package's own layout (run here on stand-in trees), and a missing package names its install command."""

from __future__ import annotations

import os

import pytest

from omniret.datasets import ood_sources as osrc
from omniret.datasets.ood_sources import Item, _board_objects, _limited, clean_name
from omniret.datasets.sources import SourceMissingError


def touch(path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def rows(items: list[Item]) -> list[tuple[str, str, str, str]]:
    return [(i.domain, i.modality, i.text, i.ref) for i in items]


def test_clean_name():
    assert clean_name("measuringTape4") == "measuring tape"
    assert clean_name("x-office-document") == "office document"
    assert clean_name("LeaningTowerOfPisa") == "leaning tower of pisa"


def test_tux_paint_stamps_follow_the_folder_rules(tmp_path, monkeypatch):
    """Cut-outs: no cartoons, symbols, signs or pre-mirrored copies; sounds: none from the folders
    whose sounds speak letters; speech: every *_desc.ogg. The text is the first English line."""
    for rel in ("animals/cat", "animals/cat_mirror", "cartoon/bear", "symbols/a", "town/roadsigns/stop"):
        touch(tmp_path / f"{rel}.txt", f"The {rel.rsplit('/', 1)[1]}.\nfr.utf8=traduction\n")
        touch(tmp_path / f"{rel}.png")
    for rel in (
        "animals/cat.ogg",
        "animals/cat_desc.ogg",
        "cartoon/bear.ogg",
        "symbols/a.ogg",
        "symbols/a_desc.ogg",
    ):
        touch(tmp_path / rel)
    touch(tmp_path / "animals/blank.txt", "\n\n")
    touch(tmp_path / "animals/blank.png")
    monkeypatch.setattr(osrc, "TUXPAINT", tmp_path)
    assert sorted(rows(osrc.tuxpaint())) == [
        ("cutouts", "image", "The cat.", "tuxpaint:animals/cat.png"),
        ("sounds", "audio", "The bear.", "tuxpaint:cartoon/bear.ogg"),
        ("sounds", "audio", "The cat.", "tuxpaint:animals/cat.ogg"),
        ("speech", "audio", "The a.", "tuxpaint:symbols/a_desc.ogg"),
        ("speech", "audio", "The cat.", "tuxpaint:animals/cat_desc.ogg"),
    ]


def test_freedesktop_channel_names_are_speech_and_aliases_are_skipped(tmp_path, monkeypatch):
    touch(tmp_path / "audio-channel-front-left.oga")
    touch(tmp_path / "bell.oga")
    os.symlink(tmp_path / "bell.oga", tmp_path / "alarm-clock-elapsed.oga")
    monkeypatch.setattr(osrc, "FREEDESKTOP", tmp_path)
    assert rows(osrc.freedesktop()) == [
        ("speech", "audio", "front left", "freedesktop:audio-channel-front-left.oga"),
        ("eventsounds", "audio", "bell", "freedesktop:bell.oga"),
    ]


def test_a_missing_package_names_its_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(osrc, "KTUBERLING", tmp_path / "nowhere")
    with pytest.raises(
        SourceMissingError, match=r"nowhere/en\.soundtheme not found: .*apt-get install ktuberling-data"
    ):
        osrc.ktuberling()
    monkeypatch.setattr(osrc, "TANGO", tmp_path / "icons")
    with pytest.raises(FileNotFoundError, match="tango-icon-theme"):
        osrc.tango()


def test_a_quick_build_takes_the_first_items_of_each_domain_by_ref():
    items = [Item(dom, "image", "x", ref, ".png", data=b"") for dom, ref in
             [("b", "s:d"), ("a", "s:c"), ("a", "s:b"), ("b", "s:a"), ("a", "s:e")]]  # fmt: skip
    assert [(i.domain, i.ref) for i in _limited(items, 2)] == [
        ("b", "s:a"),
        ("a", "s:b"),
        ("a", "s:c"),
        ("b", "s:d"),
    ]
    assert _limited(items, None) is items


def test_an_item_reads_its_bytes_from_memory_or_its_file(tmp_path):
    touch(tmp_path / "x.txt", "on disk")
    assert Item("d", "image", "t", "s:x", ".txt", path=tmp_path / "x.txt").payload() == b"on disk"
    assert Item("d", "image", "t", "s:y", ".txt", data=b"in memory").payload() == b"in memory"


def test_gcompris_board_objects_are_read_from_the_level_files():
    level = (b'var data = [{"title": qsTr("Eiffel Tower"), "image2": "qrc:/x/eiffel.webp",\n'
             b' "audio": "qrc:/x/eiffel.$CA"}, {"text": "Find the \\"violin\\""}]')  # fmt: skip
    files = {"/a/resource/board/board1.qml": level, "/a/resource/other.js": b'{"title": "elsewhere"}'}
    assert _board_objects(files) == [
        {"title": "Eiffel Tower", "image2": "qrc:/x/eiffel.webp", "audio": "qrc:/x/eiffel.$CA"},
        {"text": 'Find the \\"violin\\"'},
    ]
    assert _board_objects(files, "/a/resource/other.js") == [{"title": "elsewhere"}]
