"""DigitSeg's depth variant follows mmseg's NYUv2 layout with depth in millimetres."""
import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

from flexseg.datasets import read_digit_records

SPLITS = {"training": "train", "validation": "test"}


def _depth(nyu_root, nyu_split, stem):
    return cv2.imread(str(nyu_root / "annotations" / nyu_split / f"{stem}.png"),
                      cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("split", SPLITS)
def test_depth_is_millimetres_ordered_by_digit_size(small_set, owner_map, split):
    nyu_split = SPLITS[split]
    ordered_pairs = 0
    for stem, digits in read_digit_records(small_set.root, split).items():
        depth = _depth(small_set.nyu_root, nyu_split, stem)
        assert depth.dtype == np.uint16 and depth.shape == small_set.params.image_size
        rgb = small_set.nyu_root / "images" / nyu_split / f"{stem}.jpg"
        assert rgb.read_bytes() == (small_set.root / "images" / split / f"{stem}.jpg").read_bytes()
        owner = owner_map(digits, depth.shape)
        for k, d in enumerate(digits):
            if (owner == k).any():
                assert (depth[owner == k] == d.depth_mm).all()
        assert 500 <= min(d.depth_mm for d in digits)
        assert depth[owner == -1].min() > max(d.depth_mm for d in digits)  # plane behind
        assert depth.max() < 20_000  # a room-sized scene, in mm
        for a in digits:
            for b in digits:
                if a.size > b.size:
                    assert a.depth_mm < b.depth_mm
                    ordered_pairs += 1
    assert ordered_pairs > 0


def test_loads_with_mmseg_nyu_dataset(small_set):
    pipeline = [dict(type="LoadImageFromFile"),
                dict(type="LoadDepthAnnotation", depth_rescale_factor=1e-3)]
    with DefaultScope.overwrite_default_scope("mmseg"):
        ds = DATASETS.build(dict(type="NYUDataset", data_root=str(small_set.nyu_root),
                                 data_prefix=dict(img_path="images/test",
                                                  depth_map_path="annotations/test"),
                                 pipeline=pipeline, test_mode=True))
        assert len(ds) == small_set.params.num_val
        sample = ds[0]
    stem = sample["img_path"].rsplit("/", 1)[-1][:-len(".jpg")]
    np.testing.assert_allclose(sample["gt_depth_map"],
                               _depth(small_set.nyu_root, "test", stem) * 1e-3, rtol=1e-6)
    assert sample["img"].shape == (*small_set.params.image_size, 3)
