"""Monocular depth estimation: an estimator with working test modes and a DPT-style head.

Importing this package registers ``FlexDepthEstimator``, ``DPTDepthHead`` and ``SigLoss`` in
mmseg."""
from .dpt_head import DPTDepthHead
from .estimator import FlexDepthEstimator
from .sig_loss import SigLoss

__all__ = ["DPTDepthHead", "FlexDepthEstimator", "SigLoss"]
