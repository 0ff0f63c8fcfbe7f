"""Load a ground-truth depth map, refusing files that cannot be depth.

mmseg's ``LoadDepthAnnotation`` converts whatever it decodes to float32: an 8-bit PNG (a
visualisation, or depth quantised to 255 steps), a colour-mapped RGB picture or an empty map
then trains and evaluates silently. ``LoadDepthMap`` takes the same arguments and stops with
one line naming the file instead.
"""
from __future__ import annotations

import os

import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets.transforms import LoadDepthAnnotation
from mmseg.registry import TRANSFORMS
from mmseg.utils import datafrombytes

DEPTH_DTYPES = (np.uint16, np.float32, np.float64)


def check_depth_map(depth: np.ndarray, path: str) -> None:
    """Raise ValueError unless ``depth`` is a single-channel 16-bit or float map with at least
    one valid (finite, positive) pixel."""
    name = os.path.basename(path)
    if depth.dtype not in DEPTH_DTYPES:
        raise ValueError(f"depth map {name} is {depth.dtype}; depth must be uint16 (e.g. "
                         "millimetres in a 16-bit PNG) or float")
    if depth.ndim != 2:
        raise ValueError(f"depth map {name} has shape {depth.shape}; depth must be one "
                         "channel (a colour-mapped picture is not depth)")
    if not (np.isfinite(depth) & (depth > 0)).any():
        raise ValueError(f"depth map {name} has no valid pixel (all zero, negative or NaN)")


@TRANSFORMS.register_module()
class LoadDepthMap(LoadDepthAnnotation):
    """``LoadDepthAnnotation`` with the checks of ``check_depth_map``; adds ``gt_depth_map``
    (float32, times ``depth_rescale_factor``) and ``depth_rescale_factor``."""

    def transform(self, results: dict) -> dict:
        path = results["depth_map_path"]
        depth = datafrombytes(fileio.get(path, self.backend_args), backend=self.decode_backend)
        check_depth_map(depth, path)
        results["gt_depth_map"] = depth.astype(np.float32) * np.float32(self.depth_rescale_factor)
        results["seg_fields"].append("gt_depth_map")
        results["depth_rescale_factor"] = self.depth_rescale_factor
        return results
