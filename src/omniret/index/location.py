"""Where an index keeps its files: a directory, or a prefix in an object store (``--db s3://bucket/idx``).

The table is Lance's either way (LanceDB opens ``s3://`` with the same storage options, and commits by
conditional writes). What omniret adds beside it — ``omniret.json``, the calibration probes and the
single-writer lock — needs three operations, which both kinds of location give:

* ``read(name)`` / ``write(name, data)``: a whole small file, replaced atomically (a rename in a
  directory; a single PUT is atomic in an object store), so a reader sees the old or the new one.
* ``hold(wait)``: the writer's lock. In a directory an ``flock``: the kernel drops it when its holder
  dies. An object store has no such thing, so the lock is a **lease**: an object created only if absent
  (``If-None-Match``), naming its holder and an expiry ``LEASE_SECONDS`` ahead, renewed by a background
  thread every ``LEASE_SECONDS / 4`` with a compare-and-swap on its ETag, and released by marking it
  expired (same compare-and-swap). A killed writer's lease runs out and the next writer takes it over
  by the same compare-and-swap; two writers can never both win.
  The expiry is the holder's wall clock: hosts must agree on the time to within the lease (NTP does).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from omniret.errors import BusyError, InputError
from omniret.index.objects import Source, first_line, is_uri, split_roots, split_uri

LOCK = ".lock"
LOCK_TIMEOUT_ENV = "OMNIRET_LOCK_TIMEOUT"
_MANGLED = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/[^/]")
LEASE_SECONDS = 60.0  # an object-store writer that stops renewing is presumed dead after this long


class IndexNotFoundError(InputError):
    """A read (search, stats, delete, calibrate) names an index that does not exist."""


def locate(path, storage_options: dict | None = None):
    """A ``Directory`` for a local path, an ``ObjectPrefix`` for ``s3://…`` / ``gs://…`` / ``az://…``."""
    if isinstance(path, str) and is_uri(path):
        split_roots([path])  # an unsupported scheme is refused here, naming it
        return ObjectPrefix(path.rstrip("/"), dict(storage_options or {}))
    if _MANGLED.match(os.fspath(path)):  # Path("s3://b/x") is s3:/b/x: never make a local folder "s3:"
        raise InputError(f"--db {path}: an object-store URI must be given as text ('s3://bucket/prefix'), not "
                         "as a path (a path joins the two slashes after 's3:' into one)")  # fmt: skip
    return Directory(Path(path))


def _note() -> bytes:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode() + b"\n"  # fmt: skip


def holder(raw: bytes | None) -> str:
    """Who holds the lock, from the note it wrote."""
    try:
        note = json.loads(raw or b"null")
    except ValueError:
        note = None
    if not isinstance(note, dict) or not isinstance(note.get("pid"), int):
        return "holder unknown"
    host = note.get("host")
    where = "" if host in (None, socket.gethostname()) else f" on {host}"
    since = f", since {note['since']}" if isinstance(note.get("since"), str) else ""
    return f"held by pid {note['pid']}{where}{since}"


def _busy(where: str, who: str, wait: float) -> BusyError:
    return BusyError(f"another omniret process is writing to {where} ({who}); gave up after waiting {wait:g} s "
                     f"(wait longer with --lock-timeout or {LOCK_TIMEOUT_ENV}=SECONDS)")  # fmt: skip


class Directory:
    """An index in a local (or shared, mounted) directory."""

    storage_options = None

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def uri(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.is_dir()

    def require(self) -> None:
        if self.path.is_dir():
            return
        if self.path.exists():
            raise IndexNotFoundError(f"--db {self.path} is not an index directory (it is a file)")
        raise IndexNotFoundError(f"no index at --db {self.path}: the directory does not exist "
                                 "(run `omniret index` to create it, or check the path)")  # fmt: skip

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise IndexNotFoundError(f"--db {self.path} is not an index directory (it is a file)") from None

    def read(self, name: str) -> bytes | None:
        """The file's bytes, None when it does not exist; other failures raise ``OSError``."""
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        self.create()
        tmp = self.path / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.path / name)

    @contextmanager
    def hold(self, wait: float):
        """An ``flock`` on ``.lock`` (its holder's pid, host and start written into it, never truncated
        before the lock is ours: the file names the holder to whoever waits)."""
        self.create()
        lock = self.path / LOCK
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+b") as f:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _busy(str(self.path), holder(_read(lock)), wait) from None
                    time.sleep(min(0.05, left))
            _rewrite(f, _note())
            try:
                yield
            finally:
                _rewrite(f, b"")  # no holder any more
                fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _rewrite(f, data: bytes) -> None:
    f.seek(0)
    f.truncate()
    f.write(data)
    f.flush()


class ObjectPrefix:
    """An index under a prefix of a bucket (module docstring: files, and the lock as a lease)."""

    def __init__(self, uri: str, storage_options: dict) -> None:
        self.uri, self.storage_options = uri, storage_options
        self.path = uri  # shown in messages, as a directory's path is
        self._source, self._prefix = Source(storage_options), split_uri(uri)[1].strip("/")
        self._store, self._created = None, False

    @property
    def store(self):
        if self._store is None:
            self._store = self._source.store(self.uri)
        return self._store

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    def exists(self) -> bool:
        """An index is there when its sidecar or its table is (a prefix has no existence of its own). One
        LIST the first time; a search would otherwise pay it on every query."""
        import obstore

        if self._created:
            return True
        try:
            listed = obstore.list_with_delimiter(self.store, prefix=self._prefix or None)
        except Exception as err:
            raise InputError(f"--db {self.uri}: cannot list the bucket ({first_line(err)})") from None
        names = {o["path"].rsplit("/", 1)[-1] for o in listed["objects"]}
        dirs = {p.rstrip("/").rsplit("/", 1)[-1] for p in listed["common_prefixes"]}
        self._created = "omniret.json" in names or "segments.lance" in dirs  # once there, not asked again
        return self._created

    def require(self) -> None:
        if not self.exists():
            raise IndexNotFoundError(f"no index at --db {self.uri}: nothing there (run `omniret index` to create "
                                     "it, or check the URI and --storage-option)")  # fmt: skip

    def create(self) -> None:
        """Nothing to make (objects are written under the prefix as they come); from now on this writer
        treats the index as there, as a made directory would be."""
        self._created = True

    def read(self, name: str) -> bytes | None:
        import obstore

        try:
            return bytes(obstore.get(self.store, self._key(name)).bytes())
        except FileNotFoundError:
            return None
        except Exception as err:
            raise OSError(f"{self.uri}/{name}: {first_line(err)}") from None

    def write(self, name: str, data: bytes) -> None:
        import obstore

        obstore.put(self.store, self._key(name), data)  # one PUT: readers see the old or the new object

    @contextmanager
    def hold(self, wait: float):
        lease = _Lease(self.store, self._key(LOCK))
        deadline = time.monotonic() + wait
        while not lease.take():
            left = deadline - time.monotonic()
            if left <= 0:
                raise _busy(self.uri, holder(lease.current), wait)
            time.sleep(min(0.2, left))
        try:
            yield
        finally:
            lease.release()


class _Lease:
    """The lock object: created if absent, taken over if expired, renewed while held (compare-and-swap)."""

    def __init__(self, store, key: str) -> None:
        self.store, self.key, self.etag, self.current = store, key, None, None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self) -> bytes:
        note = json.loads(_note())
        return json.dumps({**note, "expires": time.time() + LEASE_SECONDS}).encode() + b"\n"

    def take(self) -> bool:
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            self.etag = obstore.put(self.store, self.key, self._body(), mode="create")["e_tag"]
        except AlreadyExistsError:
            try:
                got = obstore.get(self.store, self.key)
            except FileNotFoundError:  # released meanwhile: try again at once
                return False
            self.current = bytes(got.bytes())
            if not _expired(self.current):
                return False
            try:  # its holder stopped renewing: take it over, unless another writer just did
                self.etag = obstore.put(
                    self.store, self.key, self._body(), mode={"e_tag": got.meta["e_tag"]}
                )["e_tag"]
            except (PreconditionError, AlreadyExistsError):
                return False
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="omniret-lease")
        self._renewer.start()
        return True

    def _renew(self) -> None:
        import obstore

        while not self._stop.wait(LEASE_SECONDS / 4):
            try:
                self.etag = obstore.put(self.store, self.key, self._body(), mode={"e_tag": self.etag})[
                    "e_tag"
                ]
            except Exception:  # lost (expired and taken over) or unreachable: keep trying until released
                continue

    def release(self) -> None:
        """Mark the lease released (expired) by compare-and-swap, never by deleting it: a writer that lost
        its lease (it stopped renewing for a whole lease) must not remove the next holder's."""
        import obstore

        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        released = json.dumps({"released": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "expires": 0}).encode()
        try:
            obstore.put(self.store, self.key, released, mode={"e_tag": self.etag})
        except Exception:  # taken over, or unreachable: it expires by itself
            pass


def _expired(raw: bytes) -> bool:
    try:
        expires = json.loads(raw).get("expires")
    except (ValueError, AttributeError):
        return True  # not a lease note at all: nobody holds it
    return not isinstance(expires, int | float) or expires < time.time()
