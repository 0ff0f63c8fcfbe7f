"""mmseg's depth metric with a working metric selection and an Eigen crop relative to the image.

mmseg 1.2.2's ``DepthMetric`` raises a TypeError for any ``depth_metrics`` list (it calls
``isinstance(x, [tuple, list])``), and its ``crop_type='nyu_crop'`` keeps the fixed pixel box
rows 45:471, columns 41:601 of a 480x640 NYUv2 image, which on smaller images is a corner or
nothing (NaN metrics). ``FlexDepthMetric`` takes the same arguments, keeps the requested metrics
in the requested order, scales the crop with the image (exactly Eigen's box at 480x640), and
refuses a ground-truth map with no pixel to evaluate instead of reporting NaN.

Metrics are computed per image and averaged over images, as mmseg (and the NYUv2 literature)
does: d1/d2/d3 (share of pixels with max(pred/gt, gt/pred) below 1.25, 1.25², 1.25³; higher
is better), abs_rel, sq_rel, rmse, rmse_log, log10, silog (lower is better).
"""
from __future__ import annotations

import os
from typing import Sequence

import torch
from mmseg.evaluation.metrics import DepthMetric
from mmseg.registry import METRICS

CROP_TYPES = (None, "nyu_crop")
# Eigen et al.'s evaluation box on a 480x640 NYUv2 image: rows 45:471, columns 41:601.
EIGEN_CROP_FRACTIONS = (45 / 480, 471 / 480, 41 / 640, 601 / 640)


def eigen_crop_box(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the Eigen box scaled to a ``height`` x ``width`` image."""
    top, bottom, left, right = EIGEN_CROP_FRACTIONS
    return (round(top * height), round(bottom * height), round(left * width),
            round(right * width))


@METRICS.register_module()
class FlexDepthMetric(DepthMetric):
    """Depth metrics (module doc). Arguments as mmseg's ``DepthMetric``:

    Args:
        depth_metrics: names to report, in this order (default: all of ``METRICS``).
        min_depth_eval, max_depth_eval: ground-truth depths strictly between them are
            evaluated (NYUv2: 1e-3 and 10 metres).
        crop_type: None (whole image) or 'nyu_crop' (Eigen's box, relative to the size).
        depth_scale_factor, output_dir, format_only, collect_device, prefix: as mmseg's.
    """

    def __init__(self, depth_metrics: Sequence[str] | None = None,
                 crop_type: str | None = None, **kwargs) -> None:
        if crop_type not in CROP_TYPES:
            raise ValueError(f"crop_type must be None or 'nyu_crop', got {crop_type!r}")
        super().__init__(depth_metrics=None, crop_type=crop_type, **kwargs)
        if depth_metrics is not None:
            names = [depth_metrics] if isinstance(depth_metrics, str) else list(depth_metrics)
            unknown = [name for name in names if name not in self.METRICS]
            if unknown or not names:
                raise ValueError(f"unknown depth metric(s) {', '.join(unknown) or '(none)'}; "
                                 f"available: {', '.join(self.METRICS)}")
            self.metrics = tuple(dict.fromkeys(names))

    def _get_eval_mask(self, gt_depth: torch.Tensor) -> torch.Tensor:
        """Pixels with a ground-truth depth in range, inside the crop if one is set."""
        mask = (gt_depth > self.min_depth_eval) & (gt_depth < self.max_depth_eval)
        if self.crop_type == "nyu_crop":
            top, bottom, left, right = eigen_crop_box(*gt_depth.shape[-2:])
            crop = torch.zeros_like(mask)
            crop[..., top:bottom, left:right] = True
            mask &= crop
        return mask

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """As mmseg's, after checking that every ground-truth map has pixels to evaluate."""
        if not self.format_only:
            for sample in data_samples:
                gt_depth = sample["gt_depth_map"]["data"].squeeze()
                if not self._get_eval_mask(gt_depth).any():
                    crop = " inside the Eigen crop" if self.crop_type else ""
                    raise ValueError(
                        f"ground-truth depth {os.path.basename(sample.get('depth_map_path', '?'))}"
                        f" has no pixel in ({self.min_depth_eval:g}, {self.max_depth_eval:g})"
                        f"{crop}; check depth_rescale_factor and min/max_depth_eval")
        super().process(data_batch, data_samples)
