"""Object-store inputs: ``omniret index s3://bucket/photos`` (also gs://, az://, abfs://).

A collection that outgrows one machine usually lives in a bucket, not on a disk. Listing, reading and
credentials go through obstore (Python bindings of the Rust ``object_store`` crate, the one Lance
itself uses), so the storage options are Lance's keys (``aws_endpoint``, ``aws_region``,
``allow_http``, ...) and the ``AWS_*`` / ``GOOGLE_*`` / ``AZURE_*`` environment variables work as in
LanceDB.

What changes against a local folder, and why:

* **Identity**: a file is its URI. Rows store ``uri`` and ``path_bytes`` = ``s3://bucket/key`` and the
  ``asset_id`` is the hash of those bytes, exactly as a local path's; search, ``--group-by asset``,
  delete by ``--where "uri LIKE 's3://…'"`` work unchanged.
* **Change detection**: the listing's ETag and size, not a sha256 of the bytes. Hashing would download
  every object on every run; the store already keeps a tag that changes with every write (the MD5 of
  a single-part upload). The content hash is ``sha256("etag\\0size")`` with sidecar subtitles folded in
  like a local file's (their ETags), so a new ``.srt`` re-indexes its recording.
* **Reads**: a planned object (with its ``.json`` / ``.srt`` / ``.vtt`` siblings) is downloaded into a
  private staging folder by whoever decodes it (this process, or a Ray actor on another machine), and
  its ETag is checked against the listing's: an object rewritten since it was listed is reported
  ("was replaced while it was read") and not stored. The staged copy is deleted after its batch.
* **Prune**: an object under a listed root that the listing no longer has is gone (listings are
  strongly consistent on S3, GCS and Azure); a root that lists nothing is refused as a local one is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from omniret.errors import InputError
from omniret.extras import require
from omniret.index.files import Scan, display
from omniret.index.roots import Boundary
from omniret.index.speech import SUBTITLE_SUFFIXES
from omniret.inputs.media.errors import UnreadableMediaError

SCHEMES = ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss")
SIDECARS = (".json", *SUBTITLE_SUFFIXES)
# obstore's HTTP client settings; every other option configures the store (credentials, endpoint, region)
CLIENT_KEYS = {"allow_http", "allow_invalid_certificates", "connect_timeout", "default_content_type",
               "http1_only", "http2_only", "pool_idle_timeout", "pool_max_idle_per_host", "proxy_url",
               "proxy_ca_certificate", "proxy_excludes", "timeout", "user_agent"}  # fmt: skip
STAGE = "omniret-objects"  # + "-<uid>", under the temporary folder, on the driver and on every worker
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def is_uri(path) -> bool:
    """An object-store URI (s3://, gs://, az://, ...), not a local path."""
    m = _URI.match(os.fsdecode(os.fspath(path)) if isinstance(path, os.PathLike) else str(path))
    return bool(m) and m.group(1).lower() != "file"


def local_roots(paths: list) -> list:
    """``file:///x`` given as a root means the local path ``/x``; other roots are kept as given."""
    return [unquote(urlparse(p).path) if isinstance(p, str) and p.lower().startswith("file://") else p
            for p in paths]  # fmt: skip


def split_roots(paths: list) -> bool:
    """True when the roots are object-store URIs; a job mixing them with local paths is refused (each
    job reads one kind of storage, with one set of options)."""
    remote = [is_uri(p) for p in paths]
    if any(remote) and not all(remote):
        raise InputError("give either local paths or object-store URIs (s3://, gs://, az://) in one "
                         "`omniret index` run, not both: index them in two runs into the same --db")  # fmt: skip
    for p in paths:
        if is_uri(p) and urlparse(str(p)).scheme.lower() not in SCHEMES:
            raise InputError(
                f"{p}: unsupported URI scheme (supported: {', '.join(SCHEMES)}, or a local path)"
            )
    return bool(paths) and all(remote)


@dataclass(frozen=True, order=True)
class ObjectFile:
    """One listed object: what the job knows without reading it. ``os.fspath`` gives its URI, so it is
    named, hashed (``asset_id``) and stored like a local path."""

    uri: str
    size: int = 0
    etag: str = ""
    siblings: tuple[tuple[str, str], ...] = ()  # (uri, etag) of its .json / .srt / .vtt sidecars

    def __fspath__(self) -> str:
        return self.uri

    @property
    def name(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix

    def content_hash(self) -> str:
        h = hashlib.sha256(f"{self.etag}\0{self.size}".encode())
        for uri, etag in self.siblings:  # a new or rewritten subtitle file re-indexes its recording
            if uri.lower().endswith(SUBTITLE_SUFFIXES):
                h.update(f"\0{uri.rsplit('/', 1)[-1]}\0{etag}".encode())
        return h.hexdigest()

    def seconds(self) -> float:
        """Rough seconds of media for the progress bar (headers are not read before the download)."""
        return max(1.0, self.size / 250_000)


@dataclass(frozen=True)
class Source:
    """Where the objects are read from: the storage options of one job (shipped to Ray actors, never
    written into the index)."""

    options: dict = field(default_factory=dict)
    _stores: dict = field(default_factory=dict, compare=False, repr=False)  # one client per bucket

    def store(self, uri: str):
        """An obstore store rooted at ``uri``'s bucket (made once, so its connections are reused); bad
        options fail naming the key."""
        bucket = split_uri(uri)[0]
        if bucket not in self._stores:
            self._stores[bucket] = self._open(bucket, uri)
        return self._stores[bucket]

    def _open(self, bucket: str, uri: str):
        require("objects", "obstore")
        from obstore.store import from_url

        client = {k: v for k, v in self.options.items() if k in CLIENT_KEYS}
        config = {k: v for k, v in self.options.items() if k not in CLIENT_KEYS}
        try:
            return from_url(bucket, config=config or None, client_options=client or None)
        except Exception as err:
            raise InputError(f"{uri}: cannot open the object store ({first_line(err)}); storage "
                             "options are given as --storage-option KEY=VALUE") from None  # fmt: skip

    def listing(self, roots: list[str], *, max_bytes: int) -> Scan:
        """Every object under ``roots`` as ``ObjectFile`` (sorted), objects skipped with their reason, and
        per root how many indexable objects it holds. Hidden names and sidecars are left out as in a
        local folder; an unreachable store or bucket is an error naming the root, before anything runs."""
        out, found = Scan(boundary=stage_boundary()), {}
        for root in roots:
            base, prefix, metas = self._list(root)
            sidecars, folders = _sidecars(metas), {k.rpartition("/")[0] for k in metas}
            count = 0
            for key, m in sorted(metas.items()):
                if any(part.startswith(".") for part in key[len(prefix) :].split("/")):
                    continue  # a hidden name, as in a folder
                if key.lower().endswith(SIDECARS):  # metadata and subtitles of another object
                    continue
                if m["size"] == 0:  # nothing to index; a "folder" marker (keys below it) is not even reported
                    if key not in folders:
                        out.skipped.append((base + key, "empty object (0 bytes): nothing to index"))
                    continue
                if m["size"] > max_bytes:
                    out.skipped.append(
                        (base + key, f"larger than {max_bytes / 1024**3:.1f} GiB: not indexed")
                    )
                    continue
                siblings = tuple((base + k, etag) for k, etag in sidecars.get(_lead(key), ()))
                found[base + key] = ObjectFile(base + key, int(m["size"]), _etag(m), siblings)
                count += 1
            out.roots[root] = count
        out.files = sorted(found.values())
        return out

    def _list(self, root: str) -> tuple[str, str, dict]:
        """(``scheme://bucket/``, the key prefix, key -> object meta) of every object at or below
        ``root`` by whole key components; a root naming one object lists that object."""
        import obstore

        bucket, key = split_uri(root)
        prefix, store, base = key.strip("/"), self.store(root), bucket + "/"
        try:
            metas = {m["path"]: m for chunk in obstore.list(store, prefix=prefix or None) for m in chunk}
            if not metas and prefix:  # not a "folder": perhaps one object, listed with its sidecars
                try:
                    one = obstore.head(store, prefix)
                except FileNotFoundError:
                    return base, prefix, {}
                parent = prefix.rpartition("/")[0]
                beside = obstore.list_with_delimiter(store, prefix=parent or None)["objects"]
                lead = _lead(prefix)
                return base, prefix, {prefix: one, **{m["path"]: m for m in beside if m["path"].startswith(lead)
                                                      and m["path"].lower().endswith(SIDECARS)}}  # fmt: skip
        except Exception as err:
            raise InputError(
                f"{root}: cannot list the objects ({first_line(err)}); check the bucket name, the "
                "credentials (AWS_* variables or --storage-option) and the endpoint"
            ) from None
        keys = {k: m for k, m in metas.items() if not prefix or k.startswith(prefix + "/")}
        return base, prefix, keys

    def fetch(self, obj: ObjectFile, folder: Path) -> Path:
        """Download ``obj`` and its sidecars into ``folder`` (streamed: flat memory); the local copy."""
        import obstore

        folder.mkdir(parents=True, exist_ok=True)
        local = folder / obj.name
        store = self.store(obj.uri)
        for uri, etag in ((obj.uri, obj.etag), *obj.siblings):
            key = split_uri(uri)[1]
            try:
                result = obstore.get(store, key)
                if etag and str(result.meta.get("e_tag") or "") != etag:
                    raise UnreadableMediaError(
                        uri, "was replaced while it was read: not stored (index again)"
                    )
                with open(folder / uri.rsplit("/", 1)[-1], "wb") as out:
                    for chunk in result:
                        out.write(chunk)
            except FileNotFoundError:
                if uri == obj.uri:
                    raise UnreadableMediaError(
                        uri, "vanished while it was read (deleted from the store)"
                    ) from None
            except UnreadableMediaError:
                raise
            except Exception as err:
                if uri == obj.uri:
                    raise UnreadableMediaError(uri, f"cannot be downloaded ({first_line(err)})") from None
        return local


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a b#1?.jpg`` -> (``s3://bucket``, ``a b#1?.jpg``): split as text, because a key may
    hold any character (``urlparse`` would cut it at ``#`` or ``?``)."""
    scheme, _, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}", key


def stage_boundary() -> Boundary:
    """The only local folder an object job reads: its staging folder, private to this user."""
    return Boundary.of([_private(Path(tempfile.gettempdir()) / f"{STAGE}-{os.getuid()}")])


def staging_folder(boundary: Boundary) -> Path:
    """A fresh private folder for one batch's downloads, inside the job's staging root."""
    return Path(tempfile.mkdtemp(prefix="batch-", dir=_private(Path(boundary.roots[0]))))


def _private(root: Path) -> Path:
    """``root`` made (mode 700) or checked: a folder of this user that nobody else can write or swap.
    In a shared /tmp another user could otherwise place a link or a folder of theirs there first and
    change downloaded media between their download and their decoding."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(root)
    except OSError as err:
        raise InputError(f"{root}: cannot make the staging folder for downloads ({err.strerror})") from None
    if (
        stat.S_ISLNK(st.st_mode)
        or not stat.S_ISDIR(st.st_mode)
        or st.st_uid != os.getuid()
        or st.st_mode & 0o077
    ):
        raise InputError(f"{root}: the staging folder for downloads must be a directory of this user that no "
                         "one else can write (not a link, mode 700); remove it or set TMPDIR elsewhere")  # fmt: skip
    return root


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def rename(entries: list[tuple[str, str]], start: int, names: dict) -> None:
    """Report entries from ``start`` on name the local copies they were made from: name the objects
    (in the entry's name and inside its message) instead."""
    for i in range(start, len(entries)):
        name, text = entries[i]
        for copy, obj in names.items():
            shown = display(copy)
            name, text = (obj.uri if name == shown else name), text.replace(shown, obj.uri)
        entries[i] = (name, text)


def prune_candidates(known: dict, files: list[ObjectFile], roots: list[str]) -> list[str]:
    """Asset ids of rows under one of ``roots`` (whole key components) whose object the listing lacks."""
    present = {os.fsencode(f) for f in files}
    tops = [r.rstrip("/").encode() + b"/" for r in roots]
    return [aid for aid, k in known.items()
            if k.path not in present and any(k.path.startswith(t) for t in tops)]  # fmt: skip


def _etag(meta: dict) -> str:
    return str(meta.get("e_tag") or "")


def _lead(key: str) -> str:
    """What a media object's sidecars start with: ``folder/stem.`` (``stem``: the name without its suffix)."""
    folder, _, name = key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder}/{stem}." if folder else f"{stem}."


def _sidecars(metas: dict) -> dict[str, list[tuple[str, str]]]:
    """lead -> (key, etag) of the sidecars that may belong to a media object with that lead: every
    prefix of a sidecar's name up to a dot (``clip.en.srt`` may be ``clip``'s or ``clip.en``'s). One
    pass over the listing, so a folder of a million photos and their ``.json`` files stays linear."""
    out: dict[str, list] = {}
    for key in sorted(metas):
        if not key.lower().endswith(SIDECARS):
            continue
        folder, _, name = key.rpartition("/")
        for i, c in enumerate(name):
            if c == "." and i > 0:
                out.setdefault(f"{folder}/{name[: i + 1]}" if folder else name[: i + 1], []).append(
                    (key, _etag(metas[key]))
                )
    return out


def first_line(err: Exception) -> str:
    """obstore's errors carry a debug dump after the first line; the first line says what happened."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
