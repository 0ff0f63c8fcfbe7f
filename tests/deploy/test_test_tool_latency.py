"""tools/test.py --budgets-ms: latency caps pick choices by a profile (best by a results file
or the profile's metric, else the most expensive that fits) and only those are evaluated."""
import json

import pytest

from tests.deploy.conftest import TINY_CONFIG, profile_of
from tests.evaluation.test_test_tool import DATA_OPTIONS, previous_results, run_test_tool


def _evaluate(monkeypatch, tmp_path, data_root, checkpoint, *flags) -> list[str]:
    run_test_tool(monkeypatch, TINY_CONFIG, checkpoint, "--work-dir", tmp_path / "run", *flags,
                  "--cfg-options", f"test_dataloader.dataset.data_root={data_root}",
                  *DATA_OPTIONS)
    document = json.loads((tmp_path / "run/multibudget_test.json").read_text())
    return [row["id"] for row in document["choices"]]


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "latency.json"
    profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0}).save(path)
    return path


def test_latency_caps_pick_the_most_expensive_that_fits(monkeypatch, tmp_path, small_digitseg,
                                                        tiny_checkpoint, profile, capsys):
    evaluated = _evaluate(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint,
                          "--budgets-ms", "5,7,100", "--profile", profile)
    assert evaluated == ["p16", "p8", "p4"]
    assert "latency budgets: 5 ms -> p16, 7 ms -> p8, 100 ms -> p4" in capsys.readouterr().out


def test_latency_caps_rank_by_results(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint,
                                      profile):
    previous_results(tmp_path / "previous.json", best="p16")
    evaluated = _evaluate(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint,
                          "--budgets-ms", "100", "--profile", profile,
                          "--results", tmp_path / "previous.json")
    assert evaluated == ["p16"]


@pytest.mark.parametrize("flags, message", [
    (["--budgets-ms", "1"], "latency cap 1 ms is below the fastest choice: p16 takes 2 ms"),
    (["--budgets-ms", "10", "--budgets", "5"], "give --budgets (GFLOPs) or --budgets-ms"),
    (["--budgets-ms", "abc"], "latency budgets must be positive numbers of milliseconds"),
    (["--budgets-ms", "10", "--profile", None], "--budgets-ms needs --profile"),
])
def test_bad_latency_budgets_are_one_line(monkeypatch, tmp_path, tiny_checkpoint, profile,
                                          capsys, flags, message):
    if flags[-1] is None:
        flags = flags[:-2]
    else:
        flags = [*flags, "--profile", profile]
    with pytest.raises(SystemExit) as exit_code:
        run_test_tool(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--work-dir",
                      tmp_path / "run", *flags)
    assert exit_code.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]


def test_a_profile_from_elsewhere_warns(monkeypatch, tmp_path, small_digitseg,
                                        tiny_checkpoint, capsys):
    path = tmp_path / "latency.json"
    profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0}, threads=16).save(path)
    _evaluate(monkeypatch, tmp_path, small_digitseg, tiny_checkpoint, "--budgets-ms", "7",
              "--profile", path)
    assert ("warning: the latency profile was measured elsewhere (threads: profiled with 16, "
            "running with 1)") in capsys.readouterr().err
