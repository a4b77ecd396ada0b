"""Two writers and readers during a write (issue 12): the second writer waits for the lock up to its
timeout and is then refused with one line naming the holder; a reader looping while another process
ingests only ever sees committed states."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("lancedb")

from omniret.cli.main import app
from omniret.errors import BusyError
from omniret.index.location import LOCK
from omniret.index.search import search_vector
from omniret.index.store import Store
from tests.helpers.builders import make_db, refused, uris

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
HOLD = textwrap.dedent("""
    import sys, time
    from omniret.index.store import Store
    with Store(sys.argv[1]).writer():
        print("locked", flush=True)
        time.sleep(60)
""")


def run(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_a_second_writer_waits_for_the_timeout_then_is_refused_naming_the_holder(tmp_path):
    db = make_db(tmp_path / "db").path
    with Store(db).writer():
        start = time.monotonic()
        out = run("delete", "--where", "uri = 'a1'", "--db", db, "--lock-timeout", "0.4")
        waited = time.monotonic() - start
        line = refused(out, 1, str(db), f"pid {os.getpid()}", "0.4 s", "--lock-timeout")
        assert "another omniret process is writing" in line and waited >= 0.4
        assert json.loads((db / LOCK).read_text())["pid"] == os.getpid()
        out = run("calibrate", "--db", db, env={"OMNIRET_LOCK_TIMEOUT": "0"})  # the variable works too
        refused(out, 1, str(db), f"pid {os.getpid()}")
    assert uris(db) == ["a1", "a2", "t1", "t2"]
    assert (db / LOCK).read_text() == ""  # released: no holder named any more


def test_a_second_writer_gets_the_lock_when_the_first_one_finishes_in_time(tmp_path):
    db = make_db(tmp_path / "db").path
    locked, release = threading.Event(), threading.Event()

    def hold():
        with Store(db).writer():
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(5)
    threading.Timer(0.3, release.set).start()
    start = time.monotonic()
    out = run("delete", "--where", "uri = 'a1'", "--db", db, "--lock-timeout", "10")
    holder.join()
    assert out.exit_code == 0 and "deleted 1 rows" in out.output, out.output
    assert time.monotonic() - start >= 0.25 and uris(db) == ["a2", "t1", "t2"]


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_the_lock_timeout_is_checked(tmp_path, value):
    db = make_db(tmp_path / "db").path
    refused(run("delete", "--where", "1=1", "--db", db, "--lock-timeout", value), 2, "--lock-timeout")
    refused(
        run("delete", "--where", "1=1", "--db", db, env={"OMNIRET_LOCK_TIMEOUT": value}),
        2,
        "OMNIRET_LOCK_TIMEOUT",
    )
    assert len(uris(db)) == 4


def test_another_process_holding_the_lock_is_named_and_a_killed_one_leaves_no_lock(tmp_path):
    db = make_db(tmp_path / "db").path
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(BusyError, match=f"held by pid {proc.pid}, since"):
            with Store(db).writer(timeout=0.2):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with Store(db).writer(timeout=0):  # the kernel dropped the dead holder's lock
        assert json.loads((db / LOCK).read_text())["pid"] == os.getpid()


# ------------------------------------------------------------------ readers during a write

WRITER = textwrap.dedent("""
    import hashlib, pathlib, sys, time
    import numpy as np
    from omniret.index import Index

    class Model:  # what the indexer asks of a model; seeded vectors instead of towers (no weights to load)
        model_id, weights_hash, recipes, dim = "fake", "w", {}, 8

        def encode(self, inputs, **_):
            seeds = [int(hashlib.sha256(repr(x).encode()).hexdigest()[:8], 16) for x in inputs]
            v = np.asarray([np.random.default_rng(s).normal(size=self.dim) for s in seeds], np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True) if len(v) else v.reshape(0, self.dim)

    total, acks = 0, pathlib.Path(sys.argv[3])

    def log(message):  # after each commit: wait until the reader has seen it (a handshake, not a sleep)
        global total
        print(message, flush=True)
        if message.startswith("committed "):
            total += int(message.split()[1])
            deadline = time.monotonic() + 60
            while not (acks / str(total)).exists() and time.monotonic() < deadline:
                time.sleep(0.01)

    Index(sys.argv[1], model=Model()).add([sys.argv[2]], batch_files=3, log=log)
""")


def test_readers_only_see_committed_states_while_another_process_ingests(tmp_path):
    media, db = tmp_path / "media", tmp_path / "db"
    media.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):  # one row each, committed 3 files at a time: 0, 3, 6, 9 or 12 rows
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(media / f"img{i:02}.png")
    committed = {0, 3, 6, 9, 12}
    env = {**ENV, "OMNIRET_CACHE_DIR": str(tmp_path / "cache")}
    acks = tmp_path / "acks"  # the reader marks each row count it has seen; the writer waits for it
    acks.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(media), str(acks)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    seen, reads, busy, deadline = set(), 0, None, time.monotonic() + 120
    try:
        while True:
            finished = proc.poll() is not None  # then one last read, of the final state
            assert time.monotonic() < deadline, "the writer hangs"
            time.sleep(0.02)  # a reader in a loop, not a busy one: the writer shares the CPUs
            store = Store(db)
            table = store.table()  # None until the writer has made the directory and the table
            if table is None:
                if finished:
                    break
                continue
            n, dim = table.count_rows(), table.schema.field("vector").type.list_size
            rows = table.search().select(["uri", "modality"]).limit(None).to_arrow()
            hits = search_vector(store, rng.normal(size=dim).astype(np.float32), k=100).hits
            assert n in committed and rows.num_rows in committed and len(hits) in committed, (n, rows, hits)
            assert len(set(rows["uri"].to_pylist())) == rows.num_rows  # no file half-written or twice
            assert len({h.uri for h in hits}) == len(hits)
            if reads % 5 == 0:
                out = CliRunner().invoke(app, ["stats", "--db", str(db)])
                assert out.exit_code == 0, out.output
                st = json.loads(out.output)
                assert st["rows"] in committed and sum(st["by_modality"].values()) == st["rows"]
            if busy is None and 0 < n < 12 and proc.poll() is None:
                try:  # mid-ingest the writer holds the lock: a second writer is refused, naming it
                    with store.writer(timeout=0.05):
                        busy = "acquired"
                except BusyError as err:
                    busy = str(err)
            seen.add(n)
            (acks / str(n)).touch()
            reads += 1
            if finished:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-2000:]
    assert stdout.count("committed 3 rows") == 4
    assert seen >= {3, 6, 9, 12}, seen  # every intermediate commit was observed, and only those
    assert busy is not None and f"held by pid {proc.pid}" in busy, busy


def test_a_reader_of_a_table_still_being_created_sees_no_table(tmp_path):
    """LanceDB lists a table as soon as its directory exists, before the first version is committed:
    a reader caught in that moment (the loop above did, under load) got ``Table 'segments' was not
    found``. It sees an empty index instead; nothing is created, and a writer is not affected."""
    db = tmp_path / "db"
    store = Store(db)
    store.create()
    store.check_segmentation(None)  # a writer records omniret.json first, then creates the table
    (db / "segments.lance").mkdir()  # what the writer's create_table has made so far
    assert "segments" in store.db.list_tables().tables and store.table() is None
    out = CliRunner().invoke(app, ["stats", "--db", str(db)])
    assert out.exit_code == 0 and json.loads(out.output)["rows"] == 0, out.output
    assert sorted(p.name for p in (db / "segments.lance").iterdir()) == []
