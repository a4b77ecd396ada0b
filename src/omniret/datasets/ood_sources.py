"""Real offline sources of the OOD test set: packages that no offline-v1 split reads.

One loader per package. Each returns ``Item`` records (medium + the authors' own text) and raises
``SourceMissingError`` naming the package and its install command. Text is cleaned mechanically
(file-name splitting, a fixed prefix rule); nothing is chosen by how a model does on it. Which
files a loader takes is decided by the package's own layout (folders, metadata), documented in
each docstring, so a reader can check the rule against the package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from omniret.datasets.qrc import read_qrc
from omniret.datasets.sources import SourceMissingError

TUXPAINT = Path("/usr/share/tuxpaint/stamps")
GCOMPRIS = Path("/usr/share/gcompris-qt/rcc")
KTUBERLING = Path("/usr/share/ktuberling/sounds")
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
TANGO = Path("/usr/share/icons/Tango/32x32")
NOTO_EMOJI = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
PALAPELI = Path("/usr/share/palapeli/collection")
MATE_NATURE = Path("/usr/share/mate-background-properties/mate-nature.xml")
TUX_SIGN_DIRS = {"town/roadsigns", "town/flags"}  # drawn signs and flags, like symbols/: not photographs
TUX_SPOKEN_DIRS = ("symbols", "seasonal/hanukkah")  # their stamp sounds speak letter and digit names
GC = "/gcompris/src/activities"
EMOJI_MAX = 300  # of ~1,400 single-code-point emoji; chosen by a hash of the code point, before rendering
SKIMAGE_PHOTOS = {  # bundled file -> skimage.data function (its docstring's first line is the text)
    "astronaut.png": "astronaut", "brick.png": "brick", "camera.png": "camera", "chelsea.png": "chelsea",
    "cell.png": "cell", "clock_motion.png": "clock", "coffee.png": "coffee", "coins.png": "coins",
    "grass.png": "grass", "gravel.png": "gravel", "hubble_deep_field.jpg": "hubble_deep_field",
    "ihc.png": "immunohistochemistry", "microaneurysms.png": "microaneurysms", "moon.png": "moon",
    "page.png": "page", "retina.jpg": "retina", "rocket.jpg": "rocket", "text.png": "text",
}  # fmt: skip


@dataclass(frozen=True)
class Item:
    """One medium and its text. ``ref`` (``source:relative/path``) is unique and names the origin."""

    domain: str
    modality: str  # "image" | "audio"
    text: str
    ref: str
    suffix: str
    path: Path | None = None
    data: bytes | None = None

    def payload(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


def _need(path: Path, package: str) -> Path:
    if not path.exists():
        raise SourceMissingError(
            f"{path} not found: install Debian package {package} (apt-get install {package})"
        )
    return path


def clean_name(stem: str) -> str:
    """'measuringTape4' -> 'measuring tape', 'x-office-document' -> 'office document'."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)
    words = re.sub(r"[\W_\d]+", " ", words).lower().split()
    return " ".join(w for w in words if w != "x")


def _first_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and ".utf8=" not in line:
            return " ".join(line.split())
    return ""


def _limited(items: list[Item], limit: int | None) -> list[Item]:
    """Quick builds: the first ``limit`` items of each domain, in ref order."""
    if not limit:
        return items
    out, seen = [], {}
    for it in sorted(items, key=lambda i: i.ref):
        seen[it.domain] = seen.get(it.domain, 0) + 1
        if seen[it.domain] <= limit:
            out.append(it)
    return out


# ----------------------------------------------------------------------------- Tux Paint stamps


def tuxpaint(limit: int | None = None) -> list[Item]:
    """Stamps with their English description (first line of NAME.txt).

    cutouts: NAME.png outside ``cartoon/``, ``symbols/`` and the sign folders (photographs cut out on
    transparency; pre-mirrored ``*_mirror`` copies skipped); sounds: NAME.ogg outside ``symbols/`` and
    ``seasonal/hanukkah/`` (whose sounds speak letter and digit names); speech: NAME_desc.ogg, the
    English reading of the text.
    """
    root = _need(TUXPAINT, "tuxpaint-stamps-default")
    items = []
    for txt in sorted(root.rglob("*.txt")):
        rel, stem, text = txt.relative_to(root), txt.with_suffix(""), _first_line(txt)
        if not text:
            continue
        top, folder = rel.parts[0], rel.parent.as_posix()
        png = stem.with_suffix(".png")
        if (png.is_file() and "cartoon" not in rel.parts and top != "symbols" and folder not in TUX_SIGN_DIRS
                and not stem.name.endswith("_mirror")):  # fmt: skip
            items.append(Item("cutouts", "image", text, f"tuxpaint:{rel.with_suffix('.png')}", ".png", png))
        if stem.with_suffix(".ogg").is_file() and not folder.startswith(TUX_SPOKEN_DIRS):
            items.append(Item("sounds", "audio", text, f"tuxpaint:{rel.with_suffix('.ogg')}", ".ogg",
                              stem.with_suffix(".ogg")))  # fmt: skip
        desc = stem.parent / f"{stem.name}_desc.ogg"
        if desc.is_file():
            items.append(Item("speech", "audio", text, f"tuxpaint:{desc.relative_to(root)}", ".ogg", desc))
    return _limited(items, limit)


# ----------------------------------------------------------------------------- GCompris


def gcompris(limit: int | None = None) -> list[Item]:
    """GCompris activity data read from its Qt resource files.

    photos: categorization photos (name from the file name; the numbers/alphabets glyph folders
    skipped) and the explore-activities' photos with their titles; drawings: the 'lang' activity's
    illustrations with their English words; sounds: farm-animal recordings (title), instrument
    recordings ('Find the X' -> X; drum_kit.ogg skipped: CC Sampling Plus) and the memory-sound effects
    (file names, with the recordist's 'LR' prefix and '_LA'/'cut' suffixes removed).
    """
    _need(GCOMPRIS, "gcompris-qt-data")
    res = {name: read_qrc(GCOMPRIS / f"{name}.rcc") for name in
           ("categorization", "explore_monuments", "explore_world_animals", "explore_farm_animals", "lang",
            "instruments", "memory-sound")}  # fmt: skip
    items = []
    for key, blob in sorted(res["categorization"].items()):
        m = re.search(r"/images/([^/]+)/([^/]+)\.webp$", key)
        if m and m.group(1) not in {"numbers", "alphabets"}:
            items.append(_gc_item("photos", "image", clean_name(m.group(2)), key, blob))
    for name in ("explore_monuments", "explore_world_animals", "explore_farm_animals"):
        for obj in _board_objects(res[name]):
            for field, domain, modality in (("image2", "photos", "image"), ("audio", "sounds", "audio")):
                key = obj.get(field, "").replace("qrc:", "").replace(".$CA", ".ogg")
                if key in res[name] and obj.get("title"):
                    items.append(_gc_item(domain, modality, obj["title"], key, res[name][key]))
    lang = res["lang"]
    for chapter in json.loads(lang[f"{GC}/lang/resource/words_sample.json"]):
        for lesson in chapter["content"]:
            for word in lesson["content"]:
                key = chapter["imgPrefix"].replace("qrc:", "") + word["image"]
                if key in lang:
                    items.append(_gc_item("drawings", "image", word["description"], key, lang[key]))
    for obj in _board_objects(res["instruments"], f"{GC}/instruments/instruments.js"):
        key = obj.get("audio", "").replace("qrc:", "").replace(".$CA", ".ogg")
        if key in res["instruments"] and not key.endswith("/drum_kit.ogg"):
            text = re.sub(r"^Find (the )?", "", obj.get("text", ""))
            items.append(_gc_item("sounds", "audio", text, key, res["instruments"][key]))
    for key, blob in sorted(res["memory-sound"].items()):
        if key.endswith(".ogg"):
            stem = re.sub(r"(_?LA)?(_?[cC]ut)?$", "", re.sub(r"^LR", "", Path(key).stem))
            items.append(_gc_item("sounds", "audio", clean_name(stem), key, blob))
    unique: dict[str, Item] = {}  # instruments.js lists a sound once per level it is in: keep the first
    for it in items:
        unique.setdefault(it.ref, it)
    return _limited(list(unique.values()), limit)


def _gc_item(domain: str, modality: str, text: str, key: str, blob: bytes) -> Item:
    rel = key.removeprefix(f"{GC}/")
    return Item(domain, modality, " ".join(text.split()), f"gcompris:{rel}", Path(key).suffix, data=blob)


def _board_objects(files: dict[str, bytes], only: str | None = None) -> list[dict[str, str]]:
    """The ``{"title": qsTr("..."), "image2": "qrc:..."}`` objects of the QML/JS level files."""
    out = []
    for key in sorted(files):
        if (only and key != only) or not (only or "/resource/board/" in key):
            continue
        for block in re.findall(r"\{[^{}]*\}", files[key].decode("utf-8", "replace")):
            fields = dict(re.findall(r'"(\w+)"\s*:\s*(?:qsTr\()?"((?:[^"\\]|\\.)*)"', block))
            audio = re.search(r'"audio"\s*:[^"]*"(qrc:[^"]+)"', block)
            if audio:
                fields["audio"] = audio.group(1)
            out.append(fields)
    return out


# ----------------------------------------------------------------------------- KDE, freedesktop, Tango


def ktuberling(limit: int | None = None) -> list[Item]:
    """KTuberling's English word recordings (sounds/en.soundtheme); text: the sound name, theme prefix dropped."""
    theme = _need(KTUBERLING / "en.soundtheme", "ktuberling-data")
    items = []
    for el in ElementTree.parse(theme).getroot().iter("sound"):
        path = KTUBERLING / el.get("file", "")
        if path.is_file():
            word = el.get("name", "").split("_", 1)[-1].replace("_", " ")
            items.append(Item("speech", "audio", word, f"ktuberling:{el.get('file')}", ".ogg", path))
    return _limited(sorted(items, key=lambda i: i.ref), limit)


def freedesktop(limit: int | None = None) -> list[Item]:
    """sound-theme-freedesktop: audio-channel-* are spoken ('front left') -> speech; the other event
    sounds -> eventsounds with the event name. Symlinks (aliases of another sound) are skipped."""
    root = _need(FREEDESKTOP, "sound-theme-freedesktop")
    items = []
    for f in sorted(root.glob("*.oga")):
        if f.is_symlink():
            continue
        speech = f.stem.startswith("audio-channel-")
        text = f.stem.removeprefix("audio-channel-").replace("-", " ")
        items.append(
            Item("speech" if speech else "eventsounds", "audio", text, f"freedesktop:{f.name}", ".ogg", f)
        )
    return _limited(items, limit)


def tango(limit: int | None = None) -> list[Item]:
    """Tango icons (32x32 PNG, real files only: the theme's symlinks are legacy aliases) -> icon name."""
    root = _need(TANGO, "tango-icon-theme")
    items = [Item("icons", "image", clean_name(f.stem), f"tango:{f.relative_to(root)}", ".png", f)
             for f in sorted(root.glob("*/*.png")) if not f.is_symlink()]  # fmt: skip
    return _limited(items, limit)


# ----------------------------------------------------------------------------- Noto emoji


def noto_emoji(limit: int | None = None) -> list[Item]:
    """Single-code-point emoji (Unicode category So) of Noto Color Emoji, rendered at the font's
    bitmap size; text: the Unicode character name, lower-cased. EMOJI_MAX chosen by code-point hash."""
    from fontTools.ttLib import TTFont
    from PIL import Image, ImageDraw, ImageFont

    path = _need(NOTO_EMOJI, "fonts-noto-color-emoji")
    points = [cp for cp in TTFont(path, lazy=True).getBestCmap() if _emoji_name(cp)]
    points = sorted(points, key=lambda cp: hashlib.md5(f"emoji:{cp:x}".encode()).hexdigest())
    font = ImageFont.truetype(str(path), 109)  # CBDT bitmaps exist at 109 px only
    items = []
    for cp in sorted(points[: min(limit or EMOJI_MAX, EMOJI_MAX)]):
        img = Image.new("RGBA", (160, 160), (255, 255, 255, 0))
        ImageDraw.Draw(img).text((80, 80), chr(cp), font=font, embedded_color=True, anchor="mm")
        if img.getbbox() is None:
            continue
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        items.append(
            Item("emoji", "image", _emoji_name(cp), f"noto-emoji:U+{cp:04X}", ".png", data=buf.getvalue())
        )
    return items


def _emoji_name(cp: int) -> str:
    name = unicodedata.name(chr(cp), "")
    if (
        unicodedata.category(chr(cp)) != "So"
        or not name
        or name.startswith(("REGIONAL INDICATOR", "EMOJI MODIFIER"))
    ):
        return ""
    return name.lower()


# ----------------------------------------------------------------------------- scene photos


def skimage_photos(limit: int | None = None) -> list[Item]:
    """scikit-image's bundled photographs; text: the first line of the loader's docstring."""
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        raise SourceMissingError("scikit-image not installed: pip install scikit-image==0.26.0")
    import skimage.data

    root = Path(skimage.data.__file__).parent
    items = [Item("photos", "image", inspect.getdoc(getattr(skimage.data, fn)).splitlines()[0].strip(),
                  f"scikit-image:data/{name}", Path(name).suffix, root / name)
             for name, fn in SKIMAGE_PHOTOS.items() if (root / name).is_file()]  # fmt: skip
    return _limited(sorted(items, key=lambda i: i.ref), limit)


def pypi_sample_photos(limit: int | None = None) -> list[Item]:
    """scikit-learn's china.jpg / flower.jpg and matplotlib's grace_hopper.jpg; text: the file name."""
    found = []
    for module, rel, pin in (("sklearn", "datasets/images", "scikit-learn==1.9.1"),
                             ("matplotlib", "mpl-data/sample_data", "matplotlib==3.11.2")):  # fmt: skip
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise SourceMissingError(f"{module} not installed: pip install {pin}")
        root = Path(next(iter(spec.submodule_search_locations))) / rel
        names = ["china.jpg", "flower.jpg"] if module == "sklearn" else ["grace_hopper.jpg"]
        found += [Item("photos", "image", clean_name(Path(n).stem), f"{pin.split('==')[0]}:{rel}/{n}", ".jpg", root / n)
                  for n in names if (root / n).is_file()]  # fmt: skip
    return _limited(found, limit)


def palapeli(limit: int | None = None) -> list[Item]:
    """Palapeli's default puzzle photos; text: the puzzle's Name, plus its Comment when it has one."""
    root = _need(PALAPELI, "palapeli-data")
    items = []
    for desktop in sorted(root.glob("*.desktop")):
        fields = dict(re.findall(r"^(Name|Comment)=(.*)$", desktop.read_text(encoding="utf-8"), re.M))
        jpg = desktop.with_suffix(".jpg")
        if jpg.is_file() and fields.get("Name"):
            text = ", ".join(t.strip() for t in (fields["Name"], fields.get("Comment", "")) if t.strip())
            items.append(Item("photos", "image", text, f"palapeli:{jpg.name}", ".jpg", jpg))
    return _limited(items, limit)


def mate_nature(limit: int | None = None) -> list[Item]:
    """MATE's nature wallpapers (photographs); text: the untranslated <name> in mate-nature.xml."""
    xml = _need(MATE_NATURE, "mate-backgrounds")
    items = []
    for wp in ElementTree.parse(xml).getroot().iter("wallpaper"):
        path = Path(wp.findtext("filename") or "")
        name = next((n.text for n in wp.findall("name") if not n.attrib), None)
        if path.is_file() and name:
            items.append(
                Item("photos", "image", name.strip(), f"mate-backgrounds:{path.name}", path.suffix, path)
            )
    return _limited(sorted(items, key=lambda i: i.ref), limit)
