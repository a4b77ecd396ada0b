"""omniret.progress: one bar for encoding, indexing and training; silent unless asked for."""

from omniret.progress import bar, track


def test_a_disabled_bar_prints_nothing_and_track_yields_every_item(capsys):
    update = bar("x", 10, enabled=False)
    update(3, description="ignored")
    assert list(track(iter([1, 2, 3]), enabled=False, total=3, label="t")) == [1, 2, 3]
    assert capsys.readouterr() == ("", "")


def test_an_enabled_bar_counts_by_size_and_stops_when_complete(monkeypatch):
    from rich import progress as rp

    seen = {}
    real_update = rp.Progress.update

    def spy(self, task, **kw):
        real_update(self, task, **kw)
        seen["completed"] = self.tasks[0].completed

    monkeypatch.setattr(rp.Progress, "update", spy)
    stops = []
    real_stop = rp.Progress.stop
    monkeypatch.setattr(rp.Progress, "stop", lambda self: stops.append(1) or real_stop(self))
    got = list(track([[1, 2], [3], [4, 5, 6]], enabled=True, total=6, label="e", size=len))
    assert got == [[1, 2], [3], [4, 5, 6]] and seen["completed"] == 6 and stops == [1]
    update = bar("t", 5, enabled=True, done=2)
    update(completed=4)
    assert seen["completed"] == 4 and stops == [1]  # not complete: still running
    update(completed=5)
    assert stops == [1, 1]
