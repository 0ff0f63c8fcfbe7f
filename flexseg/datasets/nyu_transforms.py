"""NYUv2 training transforms of the monocular-depth toolbox SN-Netv2 and DPT trained with
(``depth/datasets/pipelines/transforms.py`` there), which mmseg does not have.

- ``NYUEigenCrop``: the image and every map in ``seg_fields`` (the depth map) cut to rows
  45:472 and columns 43:608 of the 480x640 frame, Eigen's region with valid depth and no white
  border; a random crop inside it follows.
- ``DepthColorAug``: with probability ``prob``, the image raised to a random gamma, scaled by a
  random brightness and each channel by a random colour factor, clipped to [0, 255]. As
  released, the gamma applies to 0-255 values (255 ** 1.1 clips), not to [0, 1].
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

EIGEN_ROWS = (45, 472)
EIGEN_COLS = (43, 608)


@TRANSFORMS.register_module()
class NYUEigenCrop(BaseTransform):
    """Cut the image and its maps to Eigen's region of the 480x640 NYUv2 frame."""

    def transform(self, results: dict) -> dict:
        height, width = results["img"].shape[:2]
        if height < EIGEN_ROWS[1] or width < EIGEN_COLS[1]:
            raise ValueError(f"NYUEigenCrop needs the 480x640 NYUv2 frame, got {height}x{width} "
                             f"({results.get('img_path', 'image')})")
        region = (slice(*EIGEN_ROWS), slice(*EIGEN_COLS))
        results["img"] = results["img"][region]
        for key in results.get("seg_fields", []):
            results[key] = results[key][region]
        results["img_shape"] = results["img"].shape[:2]
        return results


@TRANSFORMS.register_module()
class DepthColorAug(BaseTransform):
    """Gamma, brightness and per-channel colour factors, drawn uniformly in their ranges, in
    the release's order (apply?, gamma, brightness, three colours) from NumPy's global
    generator, which mmengine seeds per worker."""

    def __init__(self, prob: float = 0.5, gamma_range: Sequence[float] = (0.9, 1.1),
                 brightness_range: Sequence[float] = (0.75, 1.25),
                 color_range: Sequence[float] = (0.9, 1.1)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"DepthColorAug prob must be in [0, 1], got {prob!r}")
        self.prob = prob
        self.ranges = [(min(r), max(r)) for r in (gamma_range, brightness_range, color_range)]

    def transform(self, results: dict) -> dict:
        if not np.random.rand() < self.prob:
            return results
        (gamma_low, gamma_high), (bright_low, bright_high), (color_low, color_high) = \
            self.ranges
        gamma = np.random.uniform(gamma_low, gamma_high)
        brightness = np.random.uniform(bright_low, bright_high)
        colors = np.random.uniform(color_low, color_high, size=3)
        image = results["img"].astype(np.float64) ** gamma * brightness * colors
        results["img"] = np.clip(image, 0, 255).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob}, ranges={self.ranges})"
