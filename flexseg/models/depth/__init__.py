"""Monocular depth estimation: an estimator with working test modes and a DPT-style head.

Importing this package registers ``FlexDepthEstimator`` and ``DPTDepthHead`` in mmseg."""
from .dpt_head import DPTDepthHead
from .estimator import FlexDepthEstimator

__all__ = ["DPTDepthHead", "FlexDepthEstimator"]
