"""Flexible backbones and necks; importing this module registers them in mmseg and mmdet."""
from .contract import Choice, FlexibleBackbone, find_flexible
from .flexivit import FlexiViT, PatchChoice
from .necks import SimpleFeaturePyramid
from .stitch_init_hook import StitchInitHook
from .stitch_routes import Route
from .stitched_vit import StitchedViT

__all__ = ["Choice", "FlexibleBackbone", "FlexiViT", "PatchChoice", "Route",
           "SimpleFeaturePyramid", "StitchInitHook", "StitchedViT", "find_flexible"]
