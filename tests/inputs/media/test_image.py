"""omniret.inputs.media.image: any Pillow image, path, bytes or array -> upright RGB -> recipe pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
    load_image,
    to_pixels,
)
from omniret.inputs.recipes import ImageRecipe
from tests.helpers.media import png_bytes, sine, write_audio


def test_alpha_is_composited_on_white_and_modes_become_rgb(tmp_path):
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    assert load_image(png_bytes(rgba)).getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("RGBA", (8, 8), (0, 0, 0, 128))
    assert load_image(half).getpixel((0, 0)) == (127, 127, 127)
    for mode in ("L", "LA", "P", "CMYK", "I;16", "1"):
        img = Image.new(mode, (4, 4))
        path = tmp_path / f"x_{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
        img.save(path) if mode != "LA" else img.save(path, format="PNG")
        out = load_image(path)
        assert out.mode == "RGB" and out.size == (4, 4), mode


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_arrays_and_pixels_recipe():
    arr = np.zeros((30, 50, 3), np.uint8)
    arr[..., 0] = 255
    x = to_pixels(load_image(arr), ImageRecipe(size=16))
    assert x.shape == (3, 16, 16)
    assert x[0].min() == pytest.approx(1.0) and x[1].max() == pytest.approx(-1.0)  # [-1, 1] scaling


def test_image_errors_name_the_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.png: file is empty"):
        load_image(tmp_path / "empty.png")
    good = png_bytes(Image.new("RGB", (64, 64), (1, 2, 3)))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptMediaError, match=r"cut\.png: damaged or truncated"):
        load_image(tmp_path / "cut.png")
    (tmp_path / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedMediaError, match=r"noise\.jpg"):
        load_image(tmp_path / "noise.jpg")
    with pytest.raises(UnreadableMediaError, match="file not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(UnreadableMediaError, match="is a directory"):
        load_image(tmp_path)
    with pytest.raises(MediaTooLargeError, match="pixel limit"):
        load_image(good, max_pixels=100)
    wav = write_audio(tmp_path / "sound.jpg.wav", sine(440, 0.1, 8000), 8000).read_bytes()
    (tmp_path / "sound.jpg").write_bytes(wav)  # mislabelled: audio content with an image extension
    with pytest.raises(WrongModalityError, match=r"sound\.jpg: expected an image but the content is audio"):
        load_image(tmp_path / "sound.jpg")


def test_float_arrays_in_0_1_are_scaled_to_bytes_and_single_channel_becomes_grey():
    """Arrays are what notebooks hand in: floats in [0, 1] mean 0..255, and (H, W, 1) is a grey image."""
    assert load_image(np.full((2, 2), 0.5, np.float32)).getpixel((0, 0)) == (127, 127, 127)  # int(127.5)
    assert load_image(np.full((2, 2, 1), 200, np.uint8)).getpixel((1, 1)) == (200, 200, 200)
    with pytest.raises(UnsupportedMediaError, match=r"\(H, W\) or \(H, W, 1\|3\|4\), got \(2, 2, 2\)"):
        load_image(np.zeros((2, 2, 2), np.uint8))


def test_bytes_are_named_by_the_caller_in_errors():
    """A file read elsewhere (a zip member, a download) is decoded from bytes but named as the caller says."""
    with pytest.raises(EmptyMediaError, match=r"^<0 bytes>: file is empty"):
        load_image(b"")
    with pytest.raises(UnsupportedMediaError, match=r"^photos\.zip:cat\.jpg: not an image format"):
        load_image(bytes(range(256)) * 4, name="photos.zip:cat.jpg")


def test_shorter_crop_keeps_the_centre_and_squash_keeps_the_whole_width():
    """A 60x20 image, red | green | red in thirds: the default recipe cuts the sides off a wide image
    (shorter side to 16/0.875 = 18 px, then a centre 16 px crop of the 54 px width), squash does not."""
    arr = np.zeros((20, 60, 3), np.uint8)
    arr[..., 0] = 255
    arr[:, 20:40] = (0, 255, 0)
    img = load_image(arr)
    crop = to_pixels(img, ImageRecipe(size=16))
    squash = to_pixels(img, ImageRecipe(size=16, resize="squash"))
    assert crop.shape == squash.shape == (3, 16, 16)
    # After the crop, columns 2..13 come from x = 21..34 of the 54 px resize: the green band (18..36).
    assert (crop[1, :, 2:14] > 0.9).all() and (crop[0, :, 2:14] < -0.9).all()
    assert (squash[0, :, 0] > 0.9).all() and (squash[1, :, 0] < -0.9).all()  # red survives at the edge


def test_recipe_mean_and_std_are_applied_per_channel():
    img = Image.new("RGB", (4, 4), (255, 0, 51))  # 1.0, 0.0, 0.2
    x = to_pixels(img, ImageRecipe(size=4, mean=(0.5, 0.0, 0.2), std=(0.25, 1.0, 0.1)))
    expected = [(1.0 - 0.5) / 0.25, (0.0 - 0.0) / 1.0, (0.2 - 0.2) / 0.1]
    assert [round(float(x[c].mean()), 4) for c in range(3)] == pytest.approx(expected, abs=1e-4)
