"""tools/gpu_check.sh on a machine without CUDA: one line and nothing run; its dry run names
every step's command; a step's verdict, peak memory and step time come from its log; a failed
step fails the check and skips the steps that need it."""
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import PYTHON, REPO

sys.path.insert(0, str(REPO / "tools"))
import gpu_check  # noqa: E402

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the no-CUDA behaviour")
ENV = dict(os.environ, PYTHON=PYTHON, OMP_NUM_THREADS="1")


def _check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "tools/gpu_check.sh", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=120)


def _check_here(capsys, *args: str) -> tuple[int, str, str]:
    """tools/gpu_check.py in this process: (exit status, stdout, stderr)."""
    code = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["gpu_check.py", *args])
        try:
            gpu_check.cli()
        except SystemExit as stop:
            code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_without_cuda_it_says_so_and_runs_nothing(tmp_path):
    result = _check("--work-dir", str(tmp_path / "work"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing was run"]
    assert not (tmp_path / "work").exists()


def test_dry_run_names_every_step_and_its_command(tmp_path, capsys):
    work = tmp_path / "work"
    code, out, err = _check_here(capsys, "--dry-run", "--gpus", "1", "--work-dir", str(work),
                                 "--iters", "3")
    assert code == 0, err
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    assert list(lines) == [step.name for step in gpu_check.plan(work, 3)]
    assert "--amp --cfg-options train_cfg.max_iters=3" in lines["amp-fp16"]
    assert "--amp-dtype bfloat16" in lines["amp-bf16"]
    assert "--amp --compile" in lines["compile"]
    assert lines["ddp"].startswith("bash tools/dist_train.sh ") and \
        lines["ddp"].endswith("# skipped: needs 2 GPUs")
    assert f"{work}/amp-fp16/iter_3.pth --work-dir" in lines["multi-budget"]
    assert "--choices all --amp" in lines["multi-budget"]
    assert "--device cuda" in lines["latency"]
    for name in ("ade-flexivit-b", "ade-snnet", "ade-stock-vit-b", "coco-flexivit-b",
                 "coco-snnet", "nyu-flexivit-b", "nyu-snnet"):
        assert "--amp --cfg-options train_cfg.max_iters=3 train_cfg.val_interval=3" in \
            lines[name]
        assert f"train_dataloader.dataset.data_root={work}/data/" in lines[name]
        assert "init_cfg=None" in lines[name] or "model.pretrained=None" in lines[name]
    _, two, _ = _check_here(capsys, "--dry-run", "--gpus", "2", "--only", "ddp", "--work-dir",
                            str(work))
    assert two.startswith("ddp: bash tools/dist_train.sh") and "skipped" not in two


def test_unknown_step_is_one_error_line(capsys):
    code, _, err = _check_here(capsys, "--only", "amp-fp17", "--dry-run")
    assert code == 2
    assert err.splitlines()[0].startswith("error: unknown step amp-fp17; steps: mmcv-ops, "
                                          "data, amp-fp16")


def _step(name: str, code: int, log: str, needs=()) -> gpu_check.Step:
    script = f"print({log!r}); raise SystemExit({code})"
    return gpu_check.Step(name, [sys.executable, "-c", script], needs=needs)


def test_verdicts_memory_and_step_times_come_from_the_logs(tmp_path):
    line = ("12/05 17:00:00 - mmengine - INFO - Iter(train) [{k}/3]  lr: 1e-4  time: {t}  "
            "data_time: 0.01  memory: {m}  loss: 2.0")
    # Running means of 3.0, 0.6, 0.6 s: the last iteration took 0.6 s (0.4 s for ViT-B).
    steps = [_step("ade-flexivit-b", 0, "\n".join(
                 line.format(k=k, t=t, m=m) for k, t, m in
                 ((1, "3.0", "10240"), (2, "1.8", "20480"), (3, "1.4", "20480")))),
             _step("ade-stock-vit-b", 0, "\n".join(
                 line.format(k=k, t=t, m="10240") for k, t in ((1, "2.0"), (2, "1.2"),
                                                               (3, "0.9333333")))),
             _step("amp-fp16", 1, "Traceback: boom"),
             _step("multi-budget", 0, "", needs=("amp-fp16",)),
             gpu_check.Step("ddp", ["false"], gpus=2)]
    done = {step.name: step for step in steps}
    for step in steps:
        gpu_check.run_step(step, tmp_path, done, gpus=1)
    assert [s.status for s in steps] == ["ok", "ok", "FAILED", "skipped", "skipped"]
    assert steps[0].peak_gb == 20.0 and steps[0].step_s == pytest.approx(0.6)
    assert steps[1].step_s == pytest.approx(0.4, abs=1e-6)
    assert steps[2].note == f"exit 1; see {tmp_path / 'logs/amp-fp16.log'}"
    assert steps[3].note == "amp-fp16 did not pass" and steps[4].note == "needs 2 GPUs, 1 here"
    table = gpu_check.summary(steps)
    assert "| ade-flexivit-b | ok |" in table and "| 20.0 of 80 GB | 0.600 s |" in table
    assert table.endswith("FlexiViT-B / stock ViT-B + UPerNet step time (ADE20K 512x512, same "
                          "run): 1.50x")
