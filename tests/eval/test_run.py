"""omniret.eval.run: the models x tasks loop behind `omniret eval mbeir`."""

import pytest

import omniret.eval.run as run
from omniret.errors import InputError
from omniret.eval.run import evaluate
from tests.helpers.builders import mbeir_fixture


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pool": "everywhere"}, "--pool must be one of local, global, both, not 'everywhere'"),
        ({"geometry": True}, "--geometry is computed on the global pool"),
        ({"batch_size": 0}, "--batch-size must be positive, got 0"),
    ],
)
def test_bad_options_are_refused_before_any_model_loads(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.setattr(run, "load_eval_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(InputError, match=message):
        evaluate(["random"], mbeir_fixture(tmp_path), ks=[1], **kwargs)
    with pytest.raises(InputError, match="is not a directory"):
        evaluate(["random"], tmp_path / "none", ks=[1])


def test_each_model_gets_one_record_and_every_finished_task_is_reported(tmp_path):
    root = mbeir_fixture(tmp_path)
    seen = []
    runs = evaluate(
        ["random", "random"], root, ks=[1, 5], pool="both", on_result=lambda m, r: seen.append(r.name)
    )
    assert [r.spec for r in runs] == ["random", "random"] and all(r.geometry is None for r in runs)
    assert set(runs[0].record["tasks"]) == {"toy_task0", "toy_task1"} and runs[0].record["pools"] == [
        "local",
        "global",
    ]
    assert sorted(seen) == sorted(["toy_task0", "toy_task1"] * 4)  # 2 models x 2 tasks x 2 pools
    # the random ranker's expected recall@1 is exact: 3 queries over 4 candidates with 1, 1 and 2 positives
    assert runs[0].record["tasks"]["toy_task0"]["metrics"]["recall@1"] == pytest.approx(
        (1 / 4 + 1 / 4 + 2 / 4) / 3
    )
