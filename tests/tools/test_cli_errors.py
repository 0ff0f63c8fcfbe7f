"""Bad input to the tools gives a short error naming the culprit, not a deep traceback. The
tools run in this process (``run_tool_here``), except where the absence of evaluation logs is
checked: those go to loggers' streams, which only a process of its own captures."""
import subprocess

from tests.conftest import (BASELINE_CONFIG, PYTHON, REPO, break_file, quick_run_options,
                            run_tool_here)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _assert_short_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr[-2000:]
    for needle in needles:
        assert needle in error_lines[0]


def test_missing_config(tmp_path):
    _assert_short_error(run_tool_here("tools/train.py", str(tmp_path / "nope.py")), "nope.py")


def test_wrong_data_root(tmp_path):
    missing = tmp_path / "no_such_data"
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options", *quick_run_options(missing))
    _assert_short_error(result, str(missing))


def test_unknown_config_key(tmp_path, small_digitseg):
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options",
                           *quick_run_options(small_digitseg), "trian_cfg.max_iters=3")
    _assert_short_error(result, "trian_cfg")


def test_unknown_model_argument(tmp_path, small_digitseg):
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options",
                           *quick_run_options(small_digitseg), "model.backbone.patch_sise=8")
    _assert_short_error(result, "patch_sise")


def test_missing_checkpoint(tmp_path):
    result = run_tool_here("tools/test.py", str(BASELINE_CONFIG), str(tmp_path / "missing.pth"))
    _assert_short_error(result, "missing.pth")


def _other_model_checkpoint(tmp_path):
    """A checkpoint of a FlexiViT segmentor: not the baseline's stock mmseg ViT."""
    import torch

    from tests.evaluation.conftest import build_segmentor, tiny_cfg

    path = tmp_path / "other.pth"
    torch.save({"meta": {}, "state_dict": build_segmentor(tiny_cfg()).state_dict()}, path)
    return path


def test_evaluation_refuses_a_checkpoint_of_another_model(tmp_path, small_digitseg):
    result = _run("tools/test.py", str(BASELINE_CONFIG), str(_other_model_checkpoint(tmp_path)),
                  "--work-dir", str(tmp_path / "w"), "--cfg-options",
                  f"test_dataloader.dataset.data_root={small_digitseg}")
    _assert_short_error(result, "does not fit the config's model", "missing (",
                        "backbone.layers.0.")
    assert "Iter(test)" not in result.stdout + result.stderr  # nothing was evaluated


def test_export_refuses_a_checkpoint_of_another_model(tmp_path):
    import torch
    from mmengine.config import Config

    from tests.evaluation.conftest import TINY_CONFIG, build_segmentor

    path = tmp_path / "baseline.pth"
    torch.save({"state_dict": build_segmentor(Config.fromfile(str(BASELINE_CONFIG)))
                .state_dict()}, path)
    result = run_tool_here("tools/export.py", str(TINY_CONFIG), str(path), "--choice", "p8",
                           "--out", str(tmp_path / "x.pth"))
    _assert_short_error(result, "does not fit the config's model", "backbone.")


def test_a_truncated_checkpoint_is_named(tmp_path, small_digitseg):
    path = _other_model_checkpoint(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    result = run_tool_here("tools/test.py", str(BASELINE_CONFIG), str(path), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options",
                           f"test_dataloader.dataset.data_root={small_digitseg}")
    _assert_short_error(result, f"checkpoint {path} is truncated")


def test_unreadable_training_files_are_named(tmp_path, digitseg_copy):
    """Loading fails deep inside a data-loader worker; the tool names both broken files of
    the sample in one line."""
    image = sorted((digitseg_copy / "images/training").glob("*.jpg"))[0]
    annotation = digitseg_copy / "annotations/training" / image.with_suffix(".png").name
    break_file(image, "truncated")
    break_file(annotation, "truncated")
    result = run_tool_here("tools/train.py", str(BASELINE_CONFIG), "--work-dir",
                           str(tmp_path / "w"), "--cfg-options",
                           *quick_run_options(digitseg_copy), "train_dataloader.num_workers=1",
                           "train_dataloader.batch_size=24")
    _assert_short_error(result, f"cannot read image {image} (truncated, empty or not an "
                        f"image); annotation {annotation} (truncated",
                        "skip_unreadable_samples=True")
