"""Optional extras: the one place where omniret imports its own modules lazily.

``import omniret`` loads torch and numpy only. Modules that need an extra's packages (decoding needs
Pillow, soundfile, soxr and PyAV; the index needs LanceDB; ...) are imported through ``require`` at
the point of use, which checks the extra first and fails with the pip command that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from omniret.errors import OmniretError

EXTRAS = {  # extra (pyproject.toml) -> the top-level packages it provides
    "media": ("PIL", "soundfile", "soxr", "av"),
    "index": ("lancedb", "pyarrow", "pypdfium2", "pysubs2"),
    "assets": ("faster_whisper",),
    "eval": ("matplotlib", "mido"),
    "ood": ("skimage", "sklearn", "fontTools"),
    "serve": ("fastapi", "uvicorn", "multipart", "prometheus_client"),
    "ray": ("ray", "lance", "lance_ray"),
    "objects": ("obstore",),
}


class MissingExtraError(OmniretError, ImportError):
    """An optional extra is not installed; the message gives the pip command."""


def missing(extra: str) -> list[str]:
    """The packages of ``extra`` that cannot be imported here."""
    return [p for p in EXTRAS[extra] if importlib.util.find_spec(p) is None]


def require(extra: str, module: str | None = None) -> ModuleType | None:
    """Import omniret's ``module`` (which needs ``extra``), or refuse naming what is missing."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{module or 'this feature'} needs the '{extra}' extra (missing: {', '.join(absent)}); "
            f"install it with: pip install 'omniret[{extra}]'"
        )
    return importlib.import_module(module) if module else None
