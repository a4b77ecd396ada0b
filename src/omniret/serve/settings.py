"""What one ``omniret serve`` process is allowed to do, fixed at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omniret.errors import InputError
from omniret.index.objects import is_uri

MB = 1 << 20


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """Limits are per request; every one of them is named in the 413 that enforces it."""

    db: Path | str  # the index searched and ingested into (a directory made by the first upload if absent,
    # or an object-store URI such as s3://bucket/idx reached with ``storage_options``)
    storage_options: dict = field(default_factory=dict)  # for an object-store db (Lance's keys)
    model: str | None = None  # None: the model the index was built with, else omniret-small
    api_key: str | None = None  # Bearer key for every /v1 and /media route; None: no key (loopback use)
    max_body_bytes: int = 64 * MB  # a whole request body
    max_item_bytes: int = 32 * MB  # one medium (a data URI, once decoded; one uploaded file)
    max_items: int = 256  # inputs of one embeddings request, files of one upload
    max_k: int = 1000  # results of one search
    batch_window_ms: float = 5.0  # dynamic batching: how long the first request waits for company
    max_batch: int = 64  # inputs per model forward
    upload_dir: Path | None = None  # where uploads are kept (None: <db>-uploads beside the index, or
    # ./omniret-uploads for an index in a bucket)
    allowed_roots: tuple[Path, ...] = field(default_factory=tuple)  # server-side paths ingestable
    warmup: bool = True  # one real encode at start-up before /readyz says ready

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_item_bytes", "max_items", "max_k", "max_batch"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        if self.batch_window_ms < 0:
            raise InputError(f"batch_window_ms must be >= 0, got {self.batch_window_ms}")
        if self.api_key is not None and len(self.api_key) < 8:
            raise InputError("the API key must have at least 8 characters")

    @property
    def uploads(self) -> Path:
        if self.upload_dir:
            return self.upload_dir
        if is_uri(self.db):  # an index in a bucket: uploads stay local
            return Path("omniret-uploads").resolve()
        db = Path(self.db)
        return db.with_name(db.name + "-uploads")


def read_api_key(path: str | Path) -> str:
    """The key is the file's first line; the file should be readable by its owner only."""
    file = Path(path)
    try:
        key = file.read_text().strip().splitlines()[0].strip() if file.stat().st_size else ""
    except (OSError, IndexError, UnicodeDecodeError) as err:
        raise InputError(f"--api-key-file {file}: cannot read a key ({err})") from None
    if not key:
        raise InputError(f"--api-key-file {file}: the file is empty (expected the key on its first line)")
    return key
