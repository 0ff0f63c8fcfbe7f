"""Latency profiles: the file, its queries and fingerprint warnings, measuring a model with
both backends, the table and latency-vs-metric plot, and tools/profile_latency.py."""
import json
import runpy
import sys

import pytest

from flexseg.budget.space import build_budget_space
from flexseg.deploy.latency import LatencyProfile
from flexseg.deploy.profile import merge_metric, profile_model
from flexseg.deploy.report import latency_front, plot_latency_front, to_markdown
from flexseg.evaluation import ChoiceResult, MultiBudgetResults
from tests.conftest import REPO
from tests.deploy.conftest import TINY_CONFIG, build_segmentor, profile_of, tiny_cfg


def test_a_profile_survives_its_file(tmp_path):
    profile = profile_of({"p16": 2.0, "p8": 6.0}, metric={"p16": 30.0, "p8": 40.0})
    profile.save(tmp_path / "p.json")
    assert LatencyProfile.load(tmp_path / "p.json") == profile
    document = json.loads((tmp_path / "p.json").read_text())
    assert document["shape"] == [64, 64] and document["batch"] == 1
    assert set(document["choices"]["p8"]) == {"median_ms", "p95_ms", "images_per_s",
                                             "peak_mem_mb", "gflops"}


def test_within_and_fastest_follow_the_statistic():
    profile = profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0})
    assert profile.fastest() == "p16"
    assert profile.within(6.0) == ["p16", "p8"]
    assert profile.within(6.0, statistic="p95_ms") == ["p16"]  # p95 = 1.5x median
    with pytest.raises(ValueError, match="latency cap 1.5 ms is below the fastest choice: p16 "
                                         "takes 2 ms"):
        profile.within(1.5)


@pytest.mark.parametrize("content, message", [
    ("not json", "is not a JSON file"),
    ('{"choices": {}}', "is not a latency profile"),
    ('{"fingerprint": {}, "batch": 1, "shape": [8, 8], "choices": {"p8": {"ms": 1}}}',
     "a choice row is malformed"),
])
def test_files_that_are_not_profiles_fail_in_one_line(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        LatencyProfile.load(tmp_path / "bad.json")


def test_fingerprint_names_every_difference_run_settings_first():
    profile = profile_of({"p8": 1.0}, threads=7, torch="0.1", machine="elsewhere")
    differences = profile.check_fingerprint(threads=2)
    assert differences[0] == "threads: profiled with 7, running with 2"
    assert "machine: profiled with 'elsewhere'" in differences[1]
    assert any(d.startswith("torch: profiled with '0.1'") for d in differences)
    assert profile_of({"p8": 1.0}, threads=2).check_fingerprint(threads=2) == []
    assert profile.check_fingerprint(backend="onnxruntime", threads=7)[0].startswith(
        "backend: profiled with 'torch', running with 'onnxruntime'")


@pytest.fixture(scope="module")
def tiny_model():
    """Two choices: each is exported for the onnxruntime backend."""
    model = build_segmentor(tiny_cfg(**{"model.backbone.patch_sizes": [8, 16]}))
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_every_choice_is_measured(tiny_model, tmp_path, backend):
    space = build_budget_space(tiny_model, (64, 64))
    tiny_model.backbone.activate("p8")
    profile = profile_model(tiny_model, space, (64, 64), batch=2, backend=backend, threads=1,
                            rounds=3, warmup=1, onnx_dir=tmp_path)
    assert profile.ids() == ["p16", "p8"]
    assert tiny_model.backbone.active_choice.id == "p8"
    for key, entry in profile.choices.items():
        assert 0 < entry.median_ms <= entry.p95_ms
        assert entry.images_per_s == pytest.approx(2000 / entry.median_ms)
        assert entry.peak_mem_mb >= 0
        assert entry.gflops == space.get(key).gflops
    assert profile.fingerprint["backend"] == backend and profile.fingerprint["threads"] == 1
    if backend == "onnxruntime":
        assert sorted(p.name for p in tmp_path.glob("*.onnx")) == ["p16.onnx", "p8.onnx"]
        assert "onnxruntime" in profile.fingerprint


def _results(values: dict[str, float], gflops: dict[str, float]) -> MultiBudgetResults:
    return MultiBudgetResults((64, 64), "mIoU", True, [
        ChoiceResult(key, gflops[key], gflops[key], 0, {"mIoU": value}, 1.0)
        for key, value in values.items()])


def test_the_front_is_taken_against_latency_not_gflops(tmp_path):
    # p6 costs fewer GFLOPs than p4 but runs slower and scores lower: off the latency front.
    gflops = {"p16": 1.0, "p6": 2.0, "p4": 3.0}
    profile = profile_of({"p16": 2.0, "p6": 9.0, "p4": 8.0}, gflops=gflops)
    merge_metric(profile, _results({"p16": 20.0, "p6": 40.0, "p4": 50.0}, gflops))
    assert latency_front(profile) == ["p16", "p4"]
    table = to_markdown(profile)
    assert "| p6 | 2 | 9.00 | 13.50 | 111.1 | 10 | 40.00 |  |" in table
    assert "| p4 | 3 | 8.00 | 12.00 | 125.0 | 10 | 50.00 | yes |" in table
    plot_latency_front(profile, tmp_path / "front.png")
    assert (tmp_path / "front.png").stat().st_size > 10_000


def test_results_of_another_model_do_not_merge():
    profile = profile_of({"p16": 2.0, "p8": 6.0})
    with pytest.raises(ValueError, match="it has p12, which the profile lacks"):
        merge_metric(profile, _results({"p12": 1.0}, {"p12": 1.0}))


def _run(monkeypatch, *args) -> None:
    monkeypatch.setattr(sys, "argv", ["profile_latency.py", *map(str, args)])
    runpy.run_path(str(REPO / "tools/profile_latency.py"), run_name="__main__")


def test_profile_tool_writes_profile_table_and_plot(monkeypatch, tmp_path, tiny_checkpoint,
                                                    capsys):
    results = tmp_path / "multibudget_test.json"
    _results({"p16": 10.0, "p8": 20.0, "p4": 30.0},
             {"p16": 0.0056, "p8": 0.0069, "p4": 0.018}).to_json(results)
    out = tmp_path / "latency.json"
    _run(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--threads", 1, "--rounds", 3,
         "--results", results, "--out", out)
    profile = LatencyProfile.load(out)
    assert profile.ids() == ["p16", "p8", "p4"] and profile.metric["name"] == "mIoU"
    assert out.with_suffix(".md").read_text().startswith("| choice | GFLOPs | median ms |")
    assert out.with_suffix(".png").is_file()
    printed = capsys.readouterr().out
    assert "3 choices, batch 1 at 64x64, torch on 1 thread (cpu), 3 calls each" in printed


@pytest.mark.parametrize("args, message", [
    (["--backend", "tensorrt"], "unknown backend 'tensorrt'; choose torch or onnxruntime"),
    (["--rounds", 0], "--rounds must be an integer >= 1"),
    (["--shape", 0, 64], "--shape must be an integer >= 1"),
])
def test_profile_tool_bad_input_is_one_line(monkeypatch, tiny_checkpoint, capsys, args,
                                            message):
    with pytest.raises(SystemExit) as exit_code:
        _run(monkeypatch, TINY_CONFIG, tiny_checkpoint, *args)
    assert exit_code.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
