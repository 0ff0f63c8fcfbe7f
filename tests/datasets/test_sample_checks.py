"""A sample whose annotation does not match its image in size, or holds labels that are not
classes, stops loading with one error naming the file (training and evaluation alike)."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from flexseg.datasets import DigitSegDataset
from flexseg.datasets.sample_checks import BrokenSampleError, out_of_range_labels
from flexseg.datasets.unreadable import handle_unreadable_samples

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
            dict(type="PackSegInputs")]


@pytest.fixture(autouse=True)
def checks_on():
    handle_unreadable_samples(False)
    yield


def _dataset(root, split, test_mode):
    init_default_scope("mmseg")
    return DigitSegDataset(data_root=str(root), test_mode=test_mode, pipeline=PIPELINE,
                           data_prefix=dict(img_path=f"images/{split}",
                                            seg_map_path=f"annotations/{split}"))


def halve(path):
    with Image.open(path) as image:
        image.resize((image.width // 2, image.height // 2), Image.NEAREST).save(path)


def set_label(path, value):
    labels = np.array(Image.open(path))
    labels[3, 5] = value
    Image.fromarray(labels).save(path)


@pytest.mark.parametrize("test_mode", [False, True], ids=["training", "evaluation"])
def test_a_half_size_annotation_is_named(digitseg_copy, test_mode):
    split = "validation" if test_mode else "training"
    broken = sorted((digitseg_copy / "annotations" / split).iterdir())[1]
    halve(broken)
    dataset = _dataset(digitseg_copy, split, test_mode)
    dataset[0]
    with pytest.raises(BrokenSampleError, match=f"^annotation {broken} is 32x32 \\(HxW\\) but "
                       "its image .* is 64x64 \\(python tools/check_dataset.py CONFIG"):
        dataset[1]


@pytest.mark.parametrize("test_mode", [False, True], ids=["training", "evaluation"])
def test_labels_outside_the_classes_are_named_and_the_ignore_index_is_not(digitseg_copy,
                                                                          test_mode):
    split = "validation" if test_mode else "training"
    first, broken = sorted((digitseg_copy / "annotations" / split).iterdir())[:2]
    set_label(first, 255)  # the ignore index: fine
    set_label(broken, 15)
    dataset = _dataset(digitseg_copy, split, test_mode)
    dataset[0]
    with pytest.raises(BrokenSampleError, match=f"^annotation {broken} has label values 15, "
                       "outside the 11 classes \\(0-10\\) and the ignore index 255"):
        dataset[1]


def test_out_of_range_values_are_listed_once_and_sorted():
    labels = np.array([[0, 12, 255], [11, 12, 3]])
    assert out_of_range_labels(labels, num_classes=11, ignore_index=255) == [11, 12]
    assert out_of_range_labels(labels, num_classes=13, ignore_index=255) == []
