"""DigitSeg's COCO instances agree with its PNG labels and load in MMDetection."""
import cv2
import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import DefaultScope
from pycocotools.coco import COCO

from flexseg.datasets import DIGIT_CLASSES, coco_file

SPLITS = {"training": "train", "validation": "val"}
PIPELINE = [dict(type="LoadImageFromFile"),
            dict(type="LoadAnnotations", with_bbox=True, with_mask=True)]


def _label(root, split, file_name):
    return cv2.imread(str(root / "annotations" / split / file_name.replace(".jpg", ".png")),
                      cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("split", SPLITS)
def test_instance_masks_partition_the_label_map(small_set, split):
    coco = COCO(str(coco_file(small_set.root, split)))
    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == [
        (i + 1, name) for i, name in enumerate(DIGIT_CLASSES)]
    image_ids = coco.getImgIds()
    assert len(image_ids) == len(list((small_set.root / "images" / split).iterdir()))
    for image_id in image_ids:
        info = coco.loadImgs(image_id)[0]
        assert (small_set.root / "images" / split / info["file_name"]).is_file()
        label = _label(small_set.root, split, info["file_name"])
        assert (info["height"], info["width"]) == label.shape
        union = np.zeros(label.shape, np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            mask = coco.annToMask(ann).astype(bool)
            assert ann["iscrowd"] == 0 and mask.any()
            assert (label[mask] == ann["category_id"]).all()  # visible region only
            assert not union[mask].any()  # instances do not overlap
            union[mask] = ann["category_id"]
            ys, xs = np.nonzero(mask)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                   ys.max() - ys.min() + 1]
            assert ann["area"] == mask.sum()
        np.testing.assert_array_equal(union, label)  # every labelled pixel has its instance


@pytest.mark.parametrize("dataset", [dict(type="CocoDataset", metainfo=dict(classes=DIGIT_CLASSES)),
                                     dict(type="DigitSegCocoDataset")])
def test_loads_with_mmdet(small_set, dataset):
    with DefaultScope.overwrite_default_scope("mmdet"):
        ds = DATASETS.build(dict(**dataset, data_root=str(small_set.root),
                                 ann_file="coco/instances_train.json",
                                 data_prefix=dict(img="images/training/"), pipeline=PIPELINE))
        assert len(ds) == small_set.params.num_train
        sample = ds[0]
    assert sample["img"].shape == (*small_set.params.image_size, 3)
    label = _label(small_set.root, "training", sample["img_path"].rsplit("/", 1)[-1])
    masks = sample["gt_masks"].masks.astype(bool)
    assert len(masks) == len(sample["gt_bboxes_labels"]) == len(sample["gt_bboxes"]) > 0
    for mask, cls in zip(masks, sample["gt_bboxes_labels"]):
        assert mask.any() and (label[mask] == cls + 1).all()
    np.testing.assert_array_equal(masks.any(axis=0), label > 0)


def test_missing_coco_file_names_the_path(small_set, tmp_path):
    with DefaultScope.overwrite_default_scope("mmdet"), pytest.raises(
            FileNotFoundError, match="instances_train.json"):
        DATASETS.build(dict(type="DigitSegCocoDataset", data_root=str(tmp_path),
                            ann_file="coco/instances_train.json",
                            data_prefix=dict(img="images/training/"), pipeline=[]))
