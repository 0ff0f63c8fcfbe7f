"""The DigitSeg study end to end on a tiny setting: jobs with a dependency, the extra
evaluation, resuming (nothing is redone), failures that skip what depends on them, and the
report with its tables and figure."""
import os
import subprocess

from flexseg.study.jobs import Job, run_jobs
from tests.conftest import PYTHON, REPO, quick_run_options

SCRIPT = "tools/reproduce/flexible_vs_fixed.py"
ENV = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")


def _study_script():
    """The study script as a module (it lives outside the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("study_script", REPO / SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def _study(tmp_path, options, *extra):
    cmd = [PYTHON, SCRIPT, "--root", str(tmp_path / "study"), "--out", str(tmp_path / "docs"),
           "--iters", "2", "--parallel", "1", *extra, "--cfg-options", *options]
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=900)


def test_tiny_study_writes_its_tables_and_figure_and_resumes(tmp_path, small_digitseg):
    options = quick_run_options(small_digitseg, max_iters=2)
    result = _study(tmp_path, options, "--only", "flex-teacher-init")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    # The teacher it needs ran first, and was evaluated at every patch size.
    assert result.stdout.index("fixed-p8: training") < result.stdout.index(
        "flex-teacher-init: training")
    every = (tmp_path / "study/fixed-p8/every-size/multibudget_test.json").read_text()
    assert all(f'"id": "p{size}"' in every for size in (4, 6, 8, 12, 16))
    report = (tmp_path / "docs/results.md").read_text()
    assert "| patch | GFLOPs | fixed, this size | fixed p8, PI-resized | teacher distillation " \
           "+ init |" in report
    assert "| p8 | 0.272 |" in report
    assert "teacher distillation + init | 2 |" in report  # its cost row, teacher in the total
    png = (tmp_path / "docs/results/flexible_vs_fixed.png").read_bytes()
    assert png.startswith(b"\x89PNG")

    again = _study(tmp_path, options, "--only", "flex-teacher-init")
    assert again.returncode == 0
    assert "training" not in again.stdout and "evaluating" not in again.stdout


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


def test_every_job_config_keeps_its_schedule_and_recipe(tmp_path):
    """Each study job's config, merged as training reads it: the schedule's iterations and
    validation, and the recipe's keys (a second ``train_cfg = ...`` in one file would drop the
    first: the 4x teacher job would then stop at the base's 1,300 iterations)."""
    from mmengine.config import Config

    from flexseg.study.jobs import _write_config

    script = _study_script()
    for job in script.study_jobs(1300):
        cfg = Config.fromfile(_write_config(tmp_path / job.name / "config.py",
                                            REPO / job.config, job.overrides, tmp_path))
        iters = int(1300 * script.SCHEDULES[script.split_suffix(job.name)[1]])
        assert (cfg.train_cfg.max_iters, cfg.train_cfg.val_interval) == (iters, iters), job.name
        assert cfg.param_scheduler[-1]["end"] == iters, job.name
        distill = cfg.train_cfg.get("distill")
        if "teacher" in job.name:
            assert distill["mode"] == "teacher", job.name
            assert "teacher_only_iters" not in distill, job.name  # nothing of the main recipe
        elif job.name.startswith("flex-inplace") or job.name == "keep-joint":
            assert distill["mode"] == "inplace", job.name
            assert distill.get("teacher_choice") == ("p8" if "-p8" in job.name else None)
            assert distill.get("teacher_only_iters", 0) == (iters // 2 if "warm" in job.name
                                                            else 0), job.name
        else:  # fixed sizes, anchors, uniform and stitched: the task loss alone
            assert distill is None, job.name
        if "weighted" in job.name:
            assert cfg.train_cfg.sampler["strategy"] == "weighted", job.name
            assert cfg.train_cfg.sampler.get("num_choices", 1) == (
                2 if script.split_suffix(job.name)[0].endswith("-two") else 1), job.name


def test_the_shipped_teacher_config_trains_the_studys_best_recipe():
    """README's teacher recipe is the one the study measured within 0.2 mIoU of the fixed
    models: same sampler (weights, two sizes per step), initialised from its teacher."""
    from mmengine.config import Config

    script = _study_script()
    cfg = Config.fromfile(
        str(REPO / "configs/flexivit/flexivit-ti6_upernet_distill-p8_1.3k_digitseg-64x64.py"))
    assert cfg.train_cfg.sampler == eval(script.TWO_FINE_SIZES_TWICE)
    assert cfg.train_cfg.distill["mode"] == "teacher" and cfg.train_cfg.distill["init_student"]
