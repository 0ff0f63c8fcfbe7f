"""DigitSegDataset loads the ADE-layout labels unchanged and fails loudly on bad input."""
import json
import shutil

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

from flexseg.datasets import SEG_CLASSES

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]
PREFIX = dict(img_path="images/validation", seg_map_path="annotations/validation")


def _build(data_root, data_prefix=PREFIX, pipeline=PIPELINE):
    with DefaultScope.overwrite_default_scope("mmseg"):
        return DATASETS.build(dict(type="DigitSegDataset", data_root=str(data_root),
                                   data_prefix=data_prefix, pipeline=pipeline))


def test_samples_carry_the_png_labels(small_set):
    ds = _build(small_set.root)
    assert len(ds) == small_set.params.num_val
    assert ds.metainfo["classes"] == SEG_CLASSES and len(ds.metainfo["palette"]) == 11
    seen = set()
    for index in range(len(ds)):
        sample = ds[index]
        label = cv2.imread(sample["seg_map_path"], cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(sample["gt_seg_map"], label)  # background stays 0
        assert sample["img"].shape == (*small_set.params.image_size, 3)
        seen |= set(np.unique(sample["gt_seg_map"]).tolist())
    assert 0 in seen and seen <= set(range(11)) and len(seen) > 2


def test_wrong_root_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"{missing}.*generate_digitseg"):
        _build(missing)


def test_missing_annotation_folder_names_it(small_set, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(small_set.root / "images", root / "images")
    with pytest.raises(FileNotFoundError, match="annotations/validation"):
        _build(root)


def test_image_without_label_names_the_file(small_set, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(small_set.root, root)
    victim = sorted((root / "annotations" / "validation").iterdir())[3]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.stem + r"\.jpg"):
        _build(root)


def test_empty_image_folder_is_an_error(tmp_path):
    for sub in PREFIX.values():
        (tmp_path / sub).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no '\\*.jpg' images"):
        _build(tmp_path)


def test_data_of_another_generator_version_is_refused_naming_both(small_set, tmp_path):
    from flexseg.datasets import GENERATOR_VERSION
    from flexseg.datasets.digitseg import META_FILE

    root = tmp_path / "old"
    shutil.copytree(small_set.root, root)
    meta = json.loads((root / META_FILE).read_text())
    (root / META_FILE).write_text(json.dumps({**meta, "version": GENERATOR_VERSION - 1}))
    with pytest.raises(ValueError, match=f"{root} was made by DigitSeg generator version "
                       f"{GENERATOR_VERSION - 1}, this checkout's is {GENERATOR_VERSION}; "
                       "regenerate it with: python tools/generate_digitseg.py"):
        _build(root)
    assert len(_build(small_set.root)) == small_set.params.num_val  # the current one loads
