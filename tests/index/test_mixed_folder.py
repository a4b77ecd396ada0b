"""Mixed folders searched WITHOUT a modality filter, with the shipped omniret-small: the right item first.

Raw cosines of the current model are not comparable across modalities (a text query can give every
generated image a higher cosine than the note it is about), so each requirement runs twice: ranked
by raw cosine (``calibration="off"``) and by per-modality calibrated score (``"on"``). A variant the
current model fails is listed in ``KNOWN_FAILURES`` and marked ``xfail(strict=True)``: when retrained
weights meet it, the strict xfail turns into a failure and the entry must be removed. The notes and
queries were written before anything was searched; the failures are the model's, not the test's.
"""

from __future__ import annotations

import colorsys
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from omniret.api import SHIPPED
from omniret.inputs import OmniInput
from tests.helpers.media import sine, write_audio, write_video

pytest.importorskip("lancedb")
pytestmark = pytest.mark.skipif(not (SHIPPED / "omniret-small").is_dir(), reason="no shipped weights")

NOTE_SETS = {  # six one-line notes each, written before any was searched; the first two mention coffee
    "errands": ("Out of coffee: buy a bag of beans on the way home.",
                "The coffee machine on the third floor is broken again.",
                "Dentist appointment moved to Thursday at 3 pm.", "Water the tomatoes and basil every other day.",
                "Flight to Lisbon leaves Friday at 7:40 from gate B12.",
                "Return the library books before the end of the month."),
    "todo": ("Coffee with Priya at the corner café, 10:30 Tuesday.", "Descale the coffee maker this weekend.",
             "Renew the car insurance before May 1.", "Pick up dry cleaning after work.",
             "Ask Tom about the budget spreadsheet.", "Book a table for Saturday dinner."),
    "journal": ("Tried a new Ethiopian coffee today, very fruity.", "Spilled coffee all over my keyboard this morning.",
                "Long walk along the river after lunch.", "The neighbours' party went on past midnight.",
                "Finished reading the second volume of the novel.",
                "Heavy rain all day, the cellar flooded a little."),
    "work": ("Shopping list: milk, eggs, ground coffee, bread.", "Team retro moved to after the coffee break.",
             "Send the signed contract to the lawyer.", "Server maintenance window is Sunday 2-4 am.",
             "Grandma's birthday is on the 14th.", "Change the bike's front brake pads."),
}  # fmt: skip


def write_notes(folder: Path, notes: tuple[str, ...]) -> Path:
    """note-0.txt ... note-5.txt; note-0 and note-1 mention coffee."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, line in enumerate(notes):
        (folder / f"note-{i}.txt").write_text(line + "\n")
    return folder


def generated(folder: Path) -> Path:
    """20 coloured circles, 12 sine tones and a 3 s colour video with a tone."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(20):
        img = Image.new("RGB", (128, 128), "white")
        rgb = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / 20, 0.8, 0.9))
        ImageDraw.Draw(img).ellipse([24, 24, 104, 104], fill=rgb)
        img.save(folder / f"circle-{i:02d}.png")
    for i in range(12):
        write_audio(folder / f"tone-{i:02d}.wav", sine(110 * 2 ** (i / 3), 3.0, 16000), 16000)
    write_video(folder / "colours.mp4", [(200, 30, 30), (30, 200, 30), (30, 30, 200)], size=64)
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from omniret.api import load_model

    return load_model("omniret-small", cache=tmp_path_factory.mktemp("features"))


@pytest.fixture(scope="module")
def generated_db(model, tmp_path_factory) -> Path:
    from omniret.index import Index

    root = tmp_path_factory.mktemp("generated")
    report = Index(root / "db", model=model).add([generated(root / "media")])
    assert len(report.added) == 33 and not report.skipped
    return root / "db"


@pytest.fixture(scope="module", params=list(NOTE_SETS))
def notes_index(request, model, generated_db, tmp_path_factory):
    """The generated media plus one set of notes (a copy of the index, so the media are encoded once)."""
    from omniret.index import Index

    root = tmp_path_factory.mktemp(request.param)
    shutil.copytree(generated_db, root / "db")
    ix = Index(root / "db", model=model)
    assert len(ix.add([write_notes(root / "notes", NOTE_SETS[request.param])]).added) == 6
    return request.param, ix


@pytest.fixture(scope="module")
def real_index(model, tmp_path_factory):
    """The demo's sample media (real photos, drawings, Fashion-MNIST items, speech, animal recordings,
    a video assembled from them, a note) plus every generated item above as distractors."""
    from omniret import demo
    from omniret.index import Index

    root = tmp_path_factory.mktemp("real")
    media = demo.gather(root / "media", log=lambda *_: None)
    needed = ("cat-photo.png", "dog.mp3", "pets.mp4", "fashion-trouser.png", "fashion-sneaker.png")
    missing = [n for n in needed if not (media / n).exists()]
    if missing:
        pytest.skip(f"demo sample media missing ({', '.join(missing)}): run `make system-deps` as root")
    generated(media / "generated")
    write_notes(media / "notes", NOTE_SETS["errands"])
    ix = Index(root / "db", model=model)
    assert not ix.add([media]).skipped
    return ix, media


def is_coffee_note(h) -> bool:
    return Path(h.uri).name in ("note-0.txt", "note-1.txt")


def cat_photo(h) -> bool:
    """The cat photo, or the moment of pets.mp4 that shows it."""
    name = Path(h.uri).name
    return name == "cat-photo.png" or (name == "pets.mp4" and (h.t0, h.t1) == (0.0, 10.0))


def dog_barking(h) -> bool:
    """The dog recording (any window of it), or the moment of pets.mp4 with the barking."""
    name = Path(h.uri).name
    return name == "dog.mp3" or (name == "pets.mp4" and (h.t0, h.t1) == (10.0, 20.0))


def sneaker(h) -> bool:
    return Path(h.uri).name == "fashion-sneaker.png"


def sneaker_query(media: Path) -> OmniInput:
    return OmniInput(image=media / "fashion-trouser.png", text="Change it into a sneaker.",
                     instruction="Find a fashion image that matches the reference image changed as requested.")  # fmt: skip


# (case, calibration) -> what the current model ranks first instead (measured in fp32, as the tests run).
# Strict: when retrained weights get one right, its xfail turns into a failure and its entry must go.
KNOWN_FAILURES = {  # omniret-small v3 (weights bfcd243803858960); v2's journal and cat failures are fixed
    ("todo", "off"): "'Ask Tom about the budget spreadsheet.' (0.427) and two other notes rank above both coffee notes",
    ("todo", "on"): "the same three notes first (z +1.43, +1.23, +0.92); no coffee note in the top 4",
    ("a dog barking", "off"): "the demo's notes.md (0.438) is first; dog.mp3 2nd (0.307)",
    ("a dog barking", "on"): "notes.md (z +1.55) is first; dog.mp3 2nd (z +1.33)",
}  # fmt: skip


def expect(request, case: str, calibration: str) -> None:
    if (case, calibration) in KNOWN_FAILURES:
        reason = f"omniret-small, calibration {calibration}: {KNOWN_FAILURES[case, calibration]}"
        request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))


def _describe(hits) -> str:
    return "; ".join(f"{Path(h.uri).name} {h.score:.3f}/{h.calibrated_score}" for h in hits[:5])


@pytest.mark.parametrize("calibration", ["off", "on"])
def test_coffee_finds_a_coffee_note_first(notes_index, calibration, request):
    notes, ix = notes_index
    expect(request, notes, calibration)
    result = ix.search("coffee", k=5, calibration=calibration)
    assert result.calibration.startswith(calibration)
    assert is_coffee_note(result.hits[0]), _describe(result.hits)


REAL_CASES = {  # the demo's searches whose right answer is an image or audio item, without their filters
    "a photo of a cat": (lambda media: OmniInput(text="a photo of a cat"), cat_photo),
    "a dog barking": (lambda media: OmniInput(text="a dog barking"), dog_barking),
    "trouser + change it into a sneaker": (sneaker_query, sneaker),
}


@pytest.mark.parametrize("calibration", ["off", "on"])
@pytest.mark.parametrize("case", list(REAL_CASES))
def test_real_media_item_first(real_index, case, calibration, request):
    expect(request, case, calibration)
    ix, media = real_index
    query, right = REAL_CASES[case]
    q = query(media)
    result = ix.search(q, k=5, calibration=calibration)
    composed = len(q.modalities()) > 1  # never calibrated (index/calibrate.py says why)
    assert result.calibration.startswith("off" if composed else calibration)
    assert right(result.hits[0]), _describe(result.hits)
