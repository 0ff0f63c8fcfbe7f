"""Checks that a loaded sample is one a model can learn from: its maps match its image in size,
and its labels are classes or the ignore index.

A half-size annotation otherwise ends evaluation in an ``IndexError`` deep inside mmseg's IoU
metric (training silently rescales it with the image), and a label beyond the classes ends
training in an index error of the loss, or is silently left out of the metric. The tools run
both checks on every sample they load (``unreadable._prepare_data``); ``tools/check_dataset.py``
runs them on a whole dataset before a long run.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CHECK_HINT = "python tools/check_dataset.py CONFIG lists every such sample"


class BrokenSampleError(ValueError):
    """A sample's map does not fit its image, or holds labels that are not classes."""


def _local_image(path: Any) -> bool:
    return (isinstance(path, str) and "://" not in path and path.lower().endswith(IMAGE_SUFFIXES)
            and os.path.isfile(path))


def _size_hw(path: str) -> tuple[int, int] | None:
    """Height and width from the file's header (nothing decoded); None if it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except Exception:  # unreadable files are reported by ``unreadable``
        return None


def size_mismatches(info: dict) -> list[str]:
    """One description per map of the sample (its ``*_path`` entries other than ``img_path``:
    annotation, depth map) whose size differs from the image's."""
    image = info.get("img_path")
    if not _local_image(image):
        return []
    image_hw = _size_hw(image)
    found = []
    for key, path in info.items():
        if key == "img_path" or not key.endswith("_path") or not _local_image(path):
            continue
        map_hw = _size_hw(path)
        if image_hw is not None and map_hw is not None and map_hw != image_hw:
            found.append(f"annotation {path} is {map_hw[0]}x{map_hw[1]} (HxW) but its image "
                         f"{image} is {image_hw[0]}x{image_hw[1]}")
    return found


def out_of_range_labels(labels: Any, num_classes: int, ignore_index: int) -> list[int]:
    """The values of a label map that are neither a class (0 .. num_classes-1) nor
    ``ignore_index``, sorted."""
    values = np.unique(np.asarray(labels))
    return [int(v) for v in values if not (0 <= v < num_classes or v == ignore_index)]


def describe_labels(path: str, bad: Sequence[int], num_classes: int, ignore_index: int) -> str:
    shown = ", ".join(map(str, bad[:8])) + (" ..." if len(bad) > 8 else "")
    return (f"annotation {path} has label values {shown}, outside the {num_classes} classes "
            f"(0-{num_classes - 1}) and the ignore index {ignore_index}")


def label_problems(dataset: Any, result: Any) -> list[str]:
    """Out-of-range labels in a loaded segmentation sample (``PackSegInputs``' output, whose
    ``gt_sem_seg`` holds the labels as trained: after ``reduce_zero_label`` and label maps);
    nothing for other tasks."""
    samples = result.get("data_samples") if isinstance(result, dict) else None
    seg = getattr(samples, "gt_sem_seg", None)
    classes = (getattr(dataset, "metainfo", None) or {}).get("classes")
    ignore_index = getattr(dataset, "ignore_index", None)
    if seg is None or not classes or ignore_index is None:
        return []
    labels = seg.data
    if int(labels.max()) < len(classes) and int(labels.min()) >= 0:
        return []
    bad = out_of_range_labels(labels.cpu().numpy(), len(classes), ignore_index)
    if not bad:
        return []
    return [describe_labels(getattr(samples, "seg_map_path", "?"), bad, len(classes),
                            ignore_index)]
