"""Flexible backbones and necks; importing this module registers them in mmseg and mmdet."""
from .contract import Choice, FlexibleBackbone, find_flexible
from .flexivit import FlexiViT, PatchChoice
from .necks import SimpleFeaturePyramid

__all__ = ["Choice", "FlexibleBackbone", "FlexiViT", "PatchChoice", "SimpleFeaturePyramid",
           "find_flexible"]
