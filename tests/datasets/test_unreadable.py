"""An unreadable image or annotation is named in one error, or a training sample that has one
is skipped and counted on request."""
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

from flexseg.datasets import DigitSegDataset, unreadable
from flexseg.datasets.unreadable import UnreadableSampleError, handle_unreadable_samples

from tests.conftest import break_file

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
            dict(type="PackSegInputs")]


@pytest.fixture(autouse=True)
def errors_only():
    yield
    handle_unreadable_samples(False)


def _dataset(root: Path, split: str = "training", test_mode: bool = False) -> DigitSegDataset:
    init_default_scope("mmseg")
    return DigitSegDataset(data_root=str(root), test_mode=test_mode, pipeline=PIPELINE,
                           data_prefix=dict(img_path=f"images/{split}",
                                            seg_map_path=f"annotations/{split}"))


@pytest.mark.parametrize("how", ["truncated", "empty", "not an image"])
@pytest.mark.parametrize("kind, folder", [("annotation", "annotations"), ("image", "images")])
@pytest.mark.parametrize("test_mode", [False, True], ids=["training", "evaluation"])
def test_an_unreadable_file_is_named(digitseg_copy, how, kind, folder, test_mode):
    handle_unreadable_samples(False)
    split = "validation" if test_mode else "training"
    broken = sorted((digitseg_copy / folder / split).iterdir())[1]
    break_file(broken, how)
    dataset = _dataset(digitseg_copy, split, test_mode)
    dataset[0]  # the others load
    with pytest.raises(UnreadableSampleError,
                       match=f"^cannot read {kind} {broken} \\(truncated, empty or not an image"
                             "\\); fix or remove it, or set skip_unreadable_samples=True"):
        dataset[1]


def test_other_loading_errors_are_left_alone(digitseg_copy):
    handle_unreadable_samples(False)
    dataset = _dataset(digitseg_copy)
    dataset.pipeline.transforms.insert(1, lambda results: results["no such key"])
    with pytest.raises(KeyError, match="no such key"):
        dataset[0]


def test_training_skips_an_unreadable_sample_and_counts_it(digitseg_copy, monkeypatch):
    handle_unreadable_samples(True)
    warnings = []
    monkeypatch.setattr(unreadable, "print_log", lambda message, **_: warnings.append(message))
    broken = sorted((digitseg_copy / "annotations/training").iterdir())[1]
    break_file(broken, "truncated")
    dataset = _dataset(digitseg_copy)
    for _ in range(2):
        sample = dataset[1]
        assert Path(sample["data_samples"].seg_map_path) != broken  # another sample instead
    assert len(warnings) >= 2  # a redraw may hit the same sample again
    assert warnings[0].startswith(f"skipping a training sample: cannot read annotation {broken}")
    assert "1 unreadable files skipped so far" in warnings[-1]  # one file, counted once
