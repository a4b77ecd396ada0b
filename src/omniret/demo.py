"""``omniret demo``: gather licence-clean sample media from installed packages, index it, search it.

Sources (all installed by ``make demo``; licences in docs/LICENSES.md): scikit-image's sample
photos, openclipart drawings, held-out Fashion-MNIST items, Asterisk speech prompts, CC0 animal
recordings, a video we assemble from those, a real PDF (the shared-mime-info specification) and a
small markdown note. Re-running reuses the index:
unchanged files are skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from omniret.datasets.render import make_video
from omniret.datasets.sources import FASHION_CLASSES, SourceMissingError, animal_sounds, fashion_mnist
from omniret.index import Index, IndexMismatchError
from omniret.inputs import OmniInput
from omniret.inputs.media import load_audio
from omniret.inputs.modality import MEDIA_NAMES

CLIPART = Path("/usr/share/openclipart/png/animals")
SPEECH = Path("/usr/share/asterisk/sounds/en")
PDF = Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf")
NOTES = """# Field notes

The cat slept on the warm windowsill all afternoon.

A rocket lifted off at dawn, trailing white smoke into the sky.

Fresh espresso in a small white cup, with a saucer and a spoon.
"""


def gather(media: Path, log=print) -> Path:
    """Copy or build the sample collection into ``media`` (idempotent)."""
    import skimage

    media.mkdir(parents=True, exist_ok=True)
    photos = Path(skimage.__file__).parent / "data"
    copies = {
        "cat-photo.png": photos / "chelsea.png",
        "coffee.png": photos / "coffee.png",
        "rocket.jpg": photos / "rocket.jpg",
        "dog-drawing.png": CLIPART / "mammals" / "dog_on_leash_gerald_g._01.png",
        "rooster-drawing.png": CLIPART / "birds" / "rooster_01.png",
        "speech-goodbye.wav": SPEECH / "vm-goodbye.wav",
        "speech-hello-world.wav": SPEECH / "hello-world.wav",
        "shared-mime-info-spec.pdf": PDF,
    }

    for name in ("dog", "cat", "rooster", "cow"):
        copies[f"{name}.mp3"] = animal_sounds()[name]
    for name, source in copies.items():
        if not (media / name).exists() and source.exists():
            shutil.copyfile(source, media / name)
    _fashion(media)
    if not (media / "notes.md").exists():
        (media / "notes.md").write_text(NOTES)
    needs = [media / n for n in ("cat-photo.png", "dog-drawing.png", "cat.mp3", "dog.mp3")]
    if not (media / "pets.mp4").exists():
        if all(p.exists() for p in needs):
            _pets_video(media)
        else:
            log(
                f"no pets.mp4: missing {', '.join(p.name for p in needs if not p.exists())} (run `make system-deps` as root)"
            )
    log(f"sample media in {media}: {len(list(media.iterdir()))} files")
    return media


FASHION = ("trouser", "sneaker", "bag", "dress")


def _fashion(media: Path) -> None:
    """Held-out Fashion-MNIST items (t10k, never trained on), for the composed image + text query."""
    from PIL import Image

    if all((media / f"fashion-{n}.png").exists() for n in FASHION):
        return
    try:
        images, labels = fashion_mnist("t10k")
    except SourceMissingError:
        return
    for name in FASHION:
        i = int(np.flatnonzero(labels[9000:] == FASHION_CLASSES.index(name))[0]) + 9000
        Image.fromarray(images[i]).resize((112, 112), Image.NEAREST).save(media / f"fashion-{name}.png")


def _pets_video(media: Path) -> None:
    """20 s: a cat with its meowing for 10 s, then a dog barking for 10 s (a moment to find)."""
    from PIL import Image

    cat = Image.open(media / "cat-photo.png")
    dog = Image.open(media / "dog-drawing.png")
    cat_wave = np.resize(load_audio(media / "cat.mp3"), 160000)
    dog_wave = np.resize(load_audio(media / "dog.mp3"), 160000)
    make_video([cat, cat, dog, dog], np.concatenate([cat_wave, dog_wave]), media / "pets.mp4", seconds_each=5.0,
               fps=4, size=160)  # fmt: skip


def queries(media: Path) -> list[tuple[str, OmniInput, dict]]:
    """The demo's searches. Only a query that asks for a kind of result filters by modality; the
    others search the whole mixed index, where every modality must share one score scale."""
    return [
        ("text -> anything", OmniInput(text="a photo of a cat"), {}),
        ("text -> anything (sound)", OmniInput(text="a dog barking"), {}),
        ("audio -> image", OmniInput(audio=media / "cat.mp3"), {"modalities": ["image"]}),
        (
            "image + text -> image",
            OmniInput(
                image=media / "fashion-trouser.png",
                text="Change it into a sneaker.",
                instruction="Find a fashion image that matches the reference image changed as requested.",
            ),
            {"modalities": ["image"]},
        ),
        ("text -> video moment", OmniInput(text="a dog"), {"modalities": ["video"]}),
        ("text -> anything (passage)", OmniInput(text="coffee"), {}),
        ("keywords -> what is said", OmniInput(text="hello world"), {"mode": "keyword"}),
        (
            "text -> PDF page (hybrid: meaning + keywords)",
            OmniInput(text="glob patterns"),
            {"mode": "hybrid"},
        ),
    ]


DEMO_MARKER = ".omniret-demo"


def run(db: Path, media: Path, *, k: int = 3, log=print) -> None:

    gather(media, log=log)
    ix = Index(db)
    marker = Path(db) / DEMO_MARKER
    try:
        report = ix.add([media], progress=True)
    except IndexMismatchError as err:
        if not marker.is_file():  # not ours: never delete an index the demo did not create
            raise
        log(f"the demo index was built with other weights; rebuilding it ({err})")
        shutil.rmtree(db)
        ix = Index(db)
        report = ix.add([media], progress=True)
    marker.write_text("created by `omniret demo`; it rebuilds this index when the model changes\n")
    log(
        f"indexed: {len(report.added)} new, {len(report.replaced)} changed, {report.unchanged} unchanged files"
    )
    for path, reason in report.skipped:
        log(f"  skipped {path}: {reason}")
    for title, query, options in queries(media):
        result = ix.search(query, k=k, **options)
        scope = ", ".join(options["modalities"]) if options.get("modalities") else "all modalities"
        ranking = "hybrid, " if options.get("mode") == "hybrid" else ""
        log(f"\n{title}: {_describe(query)}  [{scope}; {ranking}{result.mode}]")
        for rank, h in enumerate(result.hits, 1):
            log(f"  {rank}. {h.score:+.3f}  {h.modality:<5}  {_where(h)}")
    log(f"\nSearch it in a browser: omniret serve --db {db}, then open http://127.0.0.1:8000/")


def _where(h) -> str:
    """File, moment or page, and what it says (passage text, else the words spoken in the moment)."""
    moment = f" @ {h.t0:.0f}-{h.t1:.0f} s" if h.modality in ("audio", "video") and h.t0 is not None else ""
    page = f" p.{h.page}" if h.page is not None else ""
    words = " ".join((h.text or h.speech or "").split())
    said = "said " if words and not h.text else ""
    return f"{Path(h.uri).name}{page}{moment}" + (f"  {said}“{words[:60]}…”" if words else "")


def _describe(q: OmniInput) -> str:
    parts = [f"“{q.text}”"] if q.text else []
    parts += [f"{m}={Path(getattr(q, m)).name}" for m in MEDIA_NAMES if getattr(q, m) is not None]
    return " + ".join(parts)
