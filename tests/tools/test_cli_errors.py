"""Bad input to the tools gives a short error naming the culprit, not a deep traceback."""
import subprocess

from tests.conftest import BASELINE_CONFIG, PYTHON, REPO, quick_run_options


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
    _assert_short_error(_run("tools/train.py", str(tmp_path / "nope.py")), "nope.py")


def test_wrong_data_root(tmp_path):
    missing = tmp_path / "no_such_data"
    result = _run("tools/train.py", str(BASELINE_CONFIG), "--work-dir", str(tmp_path / "w"),
                  "--cfg-options", *quick_run_options(missing))
    _assert_short_error(result, str(missing))


def test_unknown_config_key(tmp_path, small_digitseg):
    result = _run("tools/train.py", str(BASELINE_CONFIG), "--work-dir", str(tmp_path / "w"),
                  "--cfg-options", *quick_run_options(small_digitseg), "trian_cfg.max_iters=3")
    _assert_short_error(result, "trian_cfg")


def test_unknown_model_argument(tmp_path, small_digitseg):
    result = _run("tools/train.py", str(BASELINE_CONFIG), "--work-dir", str(tmp_path / "w"),
                  "--cfg-options", *quick_run_options(small_digitseg),
                  "model.backbone.patch_sise=8")
    _assert_short_error(result, "patch_sise")


def test_missing_checkpoint(tmp_path):
    result = _run("tools/test.py", str(BASELINE_CONFIG), str(tmp_path / "missing.pth"))
    _assert_short_error(result, "missing.pth")
