"""COCO instance annotations for DigitSeg scenes.

Masks are compressed RLE of each digit's VISIBLE pixels: several glyphs (0, 4, 6, 8, 9) have
holes that COCO polygons cannot express, and RLE keeps the instance masks exactly consistent
with the PNG label maps. A category id equals the digit's PNG label (digit d -> id d + 1).
"""
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from .digitseg_scene import Scene
from .metainfo import seg_classes


def coco_categories(letters: bool = False) -> list[dict[str, Any]]:
    """Categories 1..10 named '0'..'9', then 11.. named 'A'.. for the letters."""
    return [{"id": i, "name": name, "supercategory": "digit" if i <= 10 else "letter"}
            for i, name in enumerate(seg_classes(letters)) if i > 0]


def coco_image(image_id: int, file_name: str, scene: Scene) -> dict[str, Any]:
    """The ``images`` entry of one scene."""
    height, width = scene.label.shape
    return {"id": image_id, "file_name": file_name, "height": height, "width": width}


def coco_annotations(scene: Scene, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """One annotation per digit with at least one visible pixel, ids from ``first_id`` on."""
    annotations = []
    for k, digit in enumerate(scene.digits):
        visible = scene.instances == k
        if not visible.any():
            continue
        rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
        annotations.append({
            "id": first_id + len(annotations),
            "image_id": image_id,
            "category_id": digit.label + 1,
            "segmentation": {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
            "area": float(mask_utils.area(rle)),
            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "iscrowd": 0,
        })
    return annotations


def coco_document(images: list[dict[str, Any]], annotations: list[dict[str, Any]],
                  description: str, letters: bool = False) -> dict[str, Any]:
    """A complete COCO instances file (``letters``: of a set with letters)."""
    return {
        "info": {"description": description},
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(letters),
    }
