"""mmseg's depth estimator with test modes that do what they are named.

mmseg 1.2.2's ``DepthEstimator.inference`` tests ``mode == 'slide'`` and then, in a separate
``if``/``else``, ``mode == 'slide_flip'``: a 'slide' config silently runs whole-image
inference. ``FlexDepthEstimator`` dispatches each mode to its own method and rejects unknown
modes with one line.
"""
from __future__ import annotations

import torch
from mmseg.models.segmentors import DepthEstimator
from mmseg.registry import MODELS

TEST_MODES = ("whole", "slide", "slide_flip")


@MODELS.register_module()
class FlexDepthEstimator(DepthEstimator):
    """``DepthEstimator`` (backbone, optional neck, depth head) with working test modes.

    ``test_cfg=dict(mode='whole')``, ``dict(mode='slide', crop_size=(h, w), stride=(sh, sw))``
    (windows averaged where they overlap) or ``mode='slide_flip'`` (each window also run
    mirrored and the two averaged). Registered in MMSegmentation only: depth estimation is an
    mmseg model type.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        mode = self.test_cfg.get("mode", "whole") if self.test_cfg else "whole"
        if mode not in TEST_MODES:
            raise ValueError(f"test_cfg.mode must be one of {', '.join(TEST_MODES)}, "
                             f"got {mode!r}")
        if mode != "whole" and not {"crop_size", "stride"} <= set(self.test_cfg):
            raise ValueError(f"test_cfg.mode={mode!r} needs crop_size and stride")

    def inference(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        """Depth maps (N, 1, H, W) of the batch by the configured mode."""
        mode = self.test_cfg.get("mode", "whole")
        if mode == "slide":
            return self.slide_inference(inputs, batch_img_metas)
        if mode == "slide_flip":
            return self.slide_flip_inference(inputs, batch_img_metas)
        return self.whole_inference(inputs, batch_img_metas)
