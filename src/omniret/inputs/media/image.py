"""Images: any Pillow format -> upright RGB -> tower pixels following an ImageRecipe."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch

from omniret.inputs.media.errors import (
    CorruptMediaError,
    MediaError,
    MediaTooLargeError,
    UnsupportedMediaError,
    WrongModalityError,
)
from omniret.inputs.media.source import describe, read_bytes, sniff
from omniret.inputs.recipes import ImageRecipe

MAX_PIXELS = 64_000_000  # larger images are refused, not decoded (decompression bombs, docs/METHOD_NOTES.md)


def load_image(src, *, max_pixels: int = MAX_PIXELS, name: str | None = None):
    """Path, bytes, PIL image or array (H, W[, C]) -> RGB PIL image, EXIF-rotated, alpha on white.

    ``name`` labels errors when ``src`` is bytes read from a file elsewhere.
    """
    from PIL import Image

    if isinstance(src, Image.Image):
        return to_rgb(src)
    if isinstance(src, np.ndarray):
        return to_rgb(Image.fromarray(_as_uint8(src, describe(src))))
    data = read_bytes(src)
    return to_rgb(decode_image(data, name or describe(src), max_pixels=max_pixels))


def decode_image(data: bytes, name: str, *, max_pixels: int = MAX_PIXELS):
    from PIL import Image, ImageOps, UnidentifiedImageError

    kind = sniff(data)
    if kind in ("audio", "video"):
        raise WrongModalityError(name, f"expected an image but the content is {kind}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise MediaTooLargeError(
                    name, f"image is {img.width}x{img.height}, over the {max_pixels}-pixel limit"
                )
            img.load()
            return ImageOps.exif_transpose(img)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaTooLargeError(name, f"image is over the {max_pixels}-pixel limit") from None
    except UnidentifiedImageError:
        raise UnsupportedMediaError(name, "not an image format Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise CorruptMediaError(name, f"damaged or truncated image ({err})") from None


def to_rgb(img, background: tuple[int, int, int] = (255, 255, 255)):
    """Any mode (RGBA, LA, P with transparency, L, CMYK, I;16) -> RGB; transparency goes on ``background``."""
    from PIL import Image

    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        base = Image.new("RGB", img.size, background)
        base.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return base
    if img.mode in ("I;16", "I;16B", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        span = max(float(arr.max() - arr.min()), 1e-6)
        img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
    return img.convert("RGB")


def _as_uint8(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise UnsupportedMediaError(name, f"image arrays must be (H, W) or (H, W, 1|3|4), got {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float32) * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return arr


def to_pixels(img, recipe: ImageRecipe) -> torch.Tensor:
    """RGB PIL image -> (3, S, S) float tensor normalised as the recipe says."""
    from PIL import Image

    s = recipe.size
    if recipe.resize == "squash":
        img = img.resize((s, s), Image.BICUBIC)
    else:
        short = round(s / recipe.crop_ratio)
        w, h = img.size
        scale = short / min(w, h)
        img = img.resize((max(s, round(w * scale)), max(s, round(h * scale))), Image.BICUBIC)
        left, top = (img.width - s) // 2, (img.height - s) // 2
        img = img.crop((left, top, left + s, top + s))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)  # (3, S, S)
    mean = torch.tensor(recipe.mean)[:, None, None]
    std = torch.tensor(recipe.std)[:, None, None]
    return (x - mean) / std
