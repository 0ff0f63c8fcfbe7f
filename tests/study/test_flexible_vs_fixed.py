"""The DigitSeg study end to end on a tiny setting: jobs with a dependency, the extra
evaluation, resuming (nothing is redone), failures that skip what depends on them, and the
report with its tables and figure."""

from mmengine.config import Config

from flexseg.study.jobs import Job, run_jobs
from tests.conftest import REPO, quick_run_options, run_tool_here

SCRIPT = "tools/reproduce/flexible_vs_fixed.py"


def _study_script():
    """The study script as a module (it lives outside the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("study_script", REPO / SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _study(tmp_path, options, *extra):
    """The study script in this process (its jobs' tools run in their own, one thread each)."""
    return run_tool_here(SCRIPT, "--root", str(tmp_path / "study"), "--out",
                         str(tmp_path / "docs"), "--iters", "2", "--parallel", "1",
                         "--threads", "1", *extra, "--cfg-options", *options)


def test_tiny_study_writes_its_tables_and_figure_and_resumes(tmp_path, small_digitseg):
    options = quick_run_options(small_digitseg, max_iters=2)
    result = _study(tmp_path, options, "--only", "fixed-p8")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    # Fine-tuned from the pretrained weights, and evaluated at every patch size.
    log = (tmp_path / "study/fixed-p8/train.log").read_text()
    assert "loaded pretrained/flexivit-ti6_digittags-64x64.pth" in log
    every = (tmp_path / "study/fixed-p8/every-size/multibudget_test.json").read_text()
    assert all(f'"id": "p{size}"' in every for size in (4, 6, 8, 12, 16))
    report = (tmp_path / "docs/results.md").read_text()
    assert "| patch | GFLOPs | fixed | p8→ |" in report
    assert "| p8 | 0.287 |" in report
    assert "- **p8→**: the fixed p8 model run at this size" in report  # the legend
    assert "| fixed p8 | 2 |" in report  # its cost row
    png = (tmp_path / "docs/results/flexible_vs_fixed.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    # The archived config names its base relative to itself and merges to what was trained.
    archived = tmp_path / "docs/results/runs/fixed-p8/config.py"
    assert archived.read_text().startswith("_base_ = ['../")
    trained = Config.fromfile(tmp_path / "study/fixed-p8/config.py").to_dict()
    assert Config.fromfile(archived).to_dict() == trained

    again = _study(tmp_path, options, "--only", "fixed-p8")
    assert again.returncode == 0
    assert "training" not in again.stdout and "evaluating" not in again.stdout
    moved = tmp_path / "study/renamed"  # a job folder renamed keeps its final weights
    (tmp_path / "study/fixed-p8").rename(moved)
    assert (moved / "final.pth").resolve() == (moved / "train/iter_2.pth").resolve()


def test_a_failed_job_skips_the_jobs_that_need_it(tmp_path):
    jobs = [Job("broken", "configs/no-such-config.py"),
            Job("after", "configs/no-such-config.py", needs=("broken",))]
    messages = []
    failed = run_jobs(jobs, tmp_path, say=messages.append)
    assert failed == ["broken", "after"]
    assert any(m.startswith("FAILED broken: tools/train.py") for m in messages)
    assert "SKIPPED after: a job it needs failed" in messages


def test_archived_jobs_are_not_run_again_unless_their_weights_are_needed(tmp_path):
    """A checkout on another machine: results archived, job folders gone."""
    import json

    archive = tmp_path / "archive"
    for name in ("teacher", "done"):
        (archive / name).mkdir(parents=True)
        (archive / name / "training.json").write_text(json.dumps({}))
    jobs = [Job("teacher", "configs/no-such-config.py"),
            Job("done", "configs/no-such-config.py"),
            Job("student", "configs/no-such-config.py", needs=("teacher",))]
    messages = []
    failed = run_jobs(jobs, tmp_path / "root", archive=archive, say=messages.append)
    # The student needs the teacher's weights, which this machine lacks: the teacher reruns
    # (and fails here, its config being absent); "done" is left alone.
    assert failed == ["teacher", "student"]
    assert not any("done:" in m for m in messages)


def _job_configs(tmp_path):
    from mmengine.config import Config

    from flexseg.study.jobs import _write_config

    script = _study_script()
    for job in script.study_jobs(1300):
        yield script, job, Config.fromfile(_write_config(
            tmp_path / job.name / "config.py", REPO / job.config, job.overrides, tmp_path))


def test_every_job_config_keeps_its_schedule_recipe_and_weights(tmp_path):
    """Each study job's config, merged as training reads it: the schedule's iterations and
    validation, the recipe's keys (a second ``train_cfg = ...`` in one file would drop the
    first), and where its backbone starts from."""
    for script, job, cfg in _job_configs(tmp_path):
        demo, _, seed = job.name.partition("-seed")
        if demo in script.TASK_CONFIGS:  # the detection and depth demos: their own
            assert cfg.model.backbone.init_cfg.checkpoint.startswith("pretrained/")
            assert cfg.default_hooks.checkpoint.interval == 100  # resumable
            assert cfg.randomness.seed == int(seed or 0), job.name
            continue
        suffix = "-4x" if job.name.endswith("-4x") else ""
        iters = 1000 if job.name.endswith("-1k") else int(1300 * script.SCHEDULES[suffix])
        iters //= 2 if "-half" in job.name else 1
        assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (iters, iters), job.name
        assert cfg.param_scheduler[-1]["end"] == iters, job.name
        distill = cfg.train_cfg.get("distill")
        teacher = job.name.startswith("flex-teacher")
        if job.name.startswith("flex-inplace-p8"):  # p8 teaches after training alone
            assert distill["mode"] == "inplace" and distill["teacher_choice"] == "p8"
            alone = 400 if job.name.endswith("-1k") else 500 * script.SCHEDULES[suffix]
            assert distill["teacher_only_iters"] == alone, job.name  # scaled with the schedule
        elif job.name.startswith("flex-inplace"):
            assert distill["mode"] == "inplace" and "teacher_choice" not in distill, job.name
        elif teacher:  # the fixed p8 job's own config and final weights
            assert distill["mode"] == "teacher" and distill["init_student"], job.name
            source = "fixed-p8-half" if "-half" in job.name else "fixed-p8"
            assert distill["teacher"] == dict(config=f"{tmp_path}/{source}/config.py",
                                              checkpoint=f"{tmp_path}/{source}/final.pth")
            assert job.needs == (source,)
        else:
            assert distill is None, job.name
        sampler = cfg.train_cfg.sampler
        two = "-two" in job.name or teacher
        assert sampler.get("num_choices", 1) == (2 if two else 1), job.name
        stitched = job.name.startswith("stitched")
        weighted = "cheap" in job.name or teacher or job.name.startswith("flex-inplace-p8")
        assert sampler["strategy"] == ("weighted" if weighted else
                                       "ros" if stitched else "uniform"), job.name
        custom_keys = cfg.optim_wrapper.get("paramwise_cfg", {}).get("custom_keys", {})
        lr_mult = custom_keys.get("backbone", {}).get("lr_mult", 1.0)
        low = "-lowlr" in job.name or (stitched and "fulllr" not in job.name)  # its config's
        assert lr_mult == (0.1 if low else 1.0), job.name
        # the jobs run before per-choice BN keep the head's shared statistics, the rest the
        # main config's per-choice ones
        shared = script.SHARED_BN in job.overrides
        assert cfg.model.decode_head.norm_cfg.type == ("SyncBN" if shared
                                                       else "ChoiceBatchNorm"), job.name
        if stitched:  # only the stitched config as shipped recalibrates the per-route rows
            hooks = [hook["type"] for hook in cfg.custom_hooks]
            recalibrates = job.name == "stitched-recal"
            assert hooks == ["StitchInitHook"] + ["ChoiceNormCalibrationHook"] * recalibrates
        backbone = cfg.model.backbone
        if stitched:
            starts = [backbone.small.init_cfg.checkpoint, backbone.large.init_cfg.checkpoint]
            assert starts == list(script.ANCHOR_FILES.values())
        elif "scratch" in job.name:
            assert backbone.init_cfg is None, job.name
        else:
            assert backbone.init_cfg.checkpoint.startswith("pretrained/"), job.name
        if job.name.startswith("anchor"):  # fine-tuned at the size its name says
            assert backbone.init_cfg.checkpoint == script.ANCHOR_FILES[job.name[7]], job.name
            assert backbone.patch_sizes == [4 if job.name.endswith("-p4") else 8], job.name
        if job.name == "fixed-p4-k8":  # stored at 8, run at 4
            assert (backbone.patch_size, backbone.patch_sizes) == (8, [4])


def test_the_shipped_main_config_trains_the_studys_main_recipe(tmp_path):
    """The main job is the recipe the study measured as its main one: same sampler,
    distillation, head norm, pretrained start and iterations."""
    from mmengine.config import Config

    main = Config.fromfile(str(REPO / "configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-"
                                      "64x64.py"))
    cfg = next(cfg for _, job, cfg in _job_configs(tmp_path)
               if job.name == _study_script().MAIN_RECIPE)
    assert cfg.train_cfg.sampler == main.train_cfg.sampler
    assert cfg.train_cfg.distill == main.train_cfg.distill
    assert cfg.train_cfg.max_iters == main.train_cfg.max_iters
    assert cfg.model.backbone.init_cfg == main.model.backbone.init_cfg
    assert cfg.model.decode_head.norm_cfg == main.model.decode_head.norm_cfg


def test_selecting_jobs_brings_what_they_need_in_study_order():
    import pytest

    from flexseg.study.jobs import select_jobs

    jobs = [Job("a", "c.py"), Job("b", "c.py", needs=("a",)), Job("c", "c.py", needs=("b",)),
            Job("d", "c.py")]
    assert [j.name for j in select_jobs(jobs, "c")] == ["a", "b", "c"]
    assert [j.name for j in select_jobs(jobs, "d, b")] == ["a", "b", "d"]
    assert select_jobs(jobs, None) == jobs
    with pytest.raises(SystemExit, match=r"unknown jobs \['e'\]; jobs: a, b, c, d"):
        select_jobs(jobs, "e")


def test_a_reseeded_demo_adds_its_own_main_metric_to_the_demos_table(tmp_path):
    """The extra column reads the other seed's run, choice by choice, not the first run's."""
    import json
    import shutil

    script = _study_script()
    source = REPO / "docs/results/runs/depth-flexible/eval.json"
    (tmp_path / "depth-flexible").mkdir()
    shutil.copy(source, tmp_path / "depth-flexible/eval.json")
    data = script.Collected(tmp_path)
    assert "seed 1" not in script.task_section(data)  # no second run yet: no column
    results = json.loads(source.read_text())
    for rank, choice in enumerate(results["choices"]):
        choice["metrics"]["rmse"] = 0.1 * (rank + 1)
    seeded = tmp_path / "depth-flexible-seed1"
    seeded.mkdir()
    (seeded / "eval.json").write_text(json.dumps(results))
    table = script.task_section(data)
    assert "| rmse | abs_rel | d1 | rmse, seed 1 |" in table
    for rank, choice in enumerate(results["choices"]):
        row = next(line for line in table.splitlines() if line.startswith(f"| {choice['id']} |"))
        assert row.endswith(f"| {0.1 * (rank + 1):.3f} |")
