"""With skip_unreadable_samples the multi-budget loops drop samples whose files cannot be read,
say how many, and report the metrics of the other samples; without it they name the file."""
import shutil

import pytest

from flexseg.datasets.unreadable import UnreadableSampleError, handle_unreadable_samples
from flexseg.evaluation import loops

from tests.conftest import break_file
from tests.evaluation.conftest import make_runner


@pytest.fixture(autouse=True)
def errors_only():
    yield
    handle_unreadable_samples(False)


def test_multi_budget_evaluation_drops_an_unreadable_sample_and_reports_it(
        tmp_path, digitseg_copy, tiny_checkpoint, monkeypatch):
    """The metrics equal those of the same data without that sample; the log says so."""
    handle_unreadable_samples(True)
    logged = []
    monkeypatch.setattr(loops, "print_log", lambda message, **_: logged.append(message))
    test_cfg = dict(type="MultiBudgetTestLoop", choices="p8,p16")
    broken = sorted((digitseg_copy / "annotations/validation").iterdir())[2]
    break_file(broken, "truncated")
    skipping = make_runner(tmp_path / "skip", digitseg_copy, tiny_checkpoint, test_cfg,
                           skip_unreadable_samples=True).test()

    without = tmp_path / "without"
    shutil.copytree(digitseg_copy, without)
    (without / "annotations/validation" / broken.name).unlink()
    (without / "images/validation" / broken.with_suffix(".jpg").name).unlink()
    expected = make_runner(tmp_path / "plain", without, tiny_checkpoint, test_cfg).test()

    assert skipping == expected
    assert any(f"multi-budget test: skipping 1 of 8 samples whose files cannot be read: "
               f"annotation {broken}" in message for message in logged)
    assert any("1 unreadable samples skipped, metrics cover the other 7" in message
               for message in logged)


def test_multi_budget_evaluation_without_the_switch_names_the_file(tmp_path, digitseg_copy,
                                                                   tiny_checkpoint):
    handle_unreadable_samples(False)
    broken = sorted((digitseg_copy / "annotations/validation").iterdir())[2]
    break_file(broken, "empty")
    runner = make_runner(tmp_path / "w", digitseg_copy, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices="p8"))
    with pytest.raises(UnreadableSampleError, match=f"cannot read annotation {broken}"):
        runner.test()
