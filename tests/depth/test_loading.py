"""LoadDepthMap reads 16-bit millimetres as metres and refuses maps that cannot be depth."""
import cv2
import numpy as np
import pytest

from flexseg.datasets import LoadDepthMap


def _load(tmp_path, array: np.ndarray, name: str = "d.png") -> dict:
    path = tmp_path / name
    cv2.imwrite(str(path), array)
    return LoadDepthMap(depth_rescale_factor=1e-3)(dict(depth_map_path=str(path),
                                                        seg_fields=[]))


def test_reads_millimetres_as_metres(tmp_path):
    depth = np.array([[1000, 2500], [0, 65535]], np.uint16)
    results = _load(tmp_path, depth)
    np.testing.assert_allclose(results["gt_depth_map"], depth * 1e-3, rtol=1e-6)
    assert results["gt_depth_map"].dtype == np.float32
    assert results["seg_fields"] == ["gt_depth_map"]


@pytest.mark.parametrize("array, message", [
    (np.full((4, 4), 200, np.uint8), r"depth map bad\.png is uint8; depth must be uint16"),
    (np.full((4, 4, 3), 2000, np.uint16), r"depth map bad\.png has shape \(4, 4, 3\); depth "
                                          "must be one channel"),
    (np.zeros((4, 4), np.uint16), r"depth map bad\.png has no valid pixel"),
])
def test_refuses_maps_that_cannot_be_depth(tmp_path, array, message):
    with pytest.raises(ValueError, match=message) as error:
        _load(tmp_path, array, "bad.png")
    assert "\n" not in str(error.value)
