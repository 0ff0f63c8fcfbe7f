"""Datasets: the embedded DigitSeg generator and its MMSegmentation/MMDetection dataset classes.

Importing this package registers ``DigitSegDataset``, ``DigitSegLettersDataset`` and the
``LoadDepthMap``, ``NYUEigenCrop`` and ``DepthColorAug`` transforms (mmseg) and
``DigitSegCocoDataset`` (mmdet).
"""
from .digitseg import (DEFAULT_ROOT, GENERATOR_VERSION, coco_file, ensure_digitseg,
                       generate_digitseg, image_stem, read_digit_records, read_meta)
from .depth_loading import LoadDepthMap, check_depth_map
from .digitseg_coco_dataset import DigitSegCocoDataset
from .digitseg_dataset import DigitSegDataset, DigitSegLettersDataset
from .digitseg_params import DigitSegParams
from .digitseg_scene import (GLYPH_THRESHOLD, SPLITS, Digit, Scene, digit_depth_mm, load_glyphs,
                             render_scene, split_sources, upscale_glyph)
from .metainfo import DIGIT_CLASSES, DIGIT_PALETTE, SEG_CLASSES, SEG_PALETTE
from .nyu_transforms import DepthColorAug, NYUEigenCrop

__all__ = [
    "DEFAULT_ROOT", "DIGIT_CLASSES", "DIGIT_PALETTE", "DepthColorAug", "Digit",
    "DigitSegCocoDataset", "DigitSegDataset", "DigitSegLettersDataset", "DigitSegParams",
    "GENERATOR_VERSION",
    "GLYPH_THRESHOLD", "LoadDepthMap", "NYUEigenCrop", "SEG_CLASSES", "SEG_PALETTE", "SPLITS",
    "Scene", "check_depth_map", "coco_file",
    "digit_depth_mm", "ensure_digitseg", "generate_digitseg", "image_stem", "load_glyphs",
    "read_digit_records", "read_meta", "render_scene", "split_sources", "upscale_glyph",
]
