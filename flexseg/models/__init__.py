"""Flexible backbones and necks (registered in mmseg and mmdet) and the depth estimator and
head (mmseg); importing this module registers them."""
from .choice_norm import ChoiceBatchNorm
from .choice_norm_calibration import ChoiceNormCalibrationHook
from .contract import Choice, FlexibleBackbone, find_flexible
from .depth import DPTDepthHead, FlexDepthEstimator
from .detection import LayerDecayOptimWrapperConstructor
from .flexivit import FlexiViT, PatchChoice
from .necks import SimpleFeaturePyramid
from .stitch_init_hook import StitchInitHook
from .stitch_routes import Route
from .stitched_vit import StitchedViT

__all__ = ["Choice", "ChoiceBatchNorm", "ChoiceNormCalibrationHook", "DPTDepthHead", "FlexDepthEstimator", "FlexibleBackbone", "FlexiViT",
           "LayerDecayOptimWrapperConstructor", "PatchChoice", "Route", "SimpleFeaturePyramid",
           "StitchInitHook", "StitchedViT", "find_flexible"]
