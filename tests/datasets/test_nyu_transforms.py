"""The NYUv2 transforms of the depth toolbox SN-Netv2 trained with: Eigen's crop of image and
depth, and the colour augmentation's formula with its draws in the released order."""
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS

import flexseg  # noqa: F401  (registers the transforms)


def _sample(height=480, width=640):
    rng = np.random.default_rng(0)
    return dict(img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                gt_depth_map=rng.random((height, width), dtype=np.float32),
                seg_fields=["gt_depth_map"], img_shape=(height, width))


def test_eigen_crop_cuts_image_and_depth_to_the_same_region():
    sample = _sample()
    image, depth = sample["img"].copy(), sample["gt_depth_map"].copy()
    out = TRANSFORMS.build(dict(type="NYUEigenCrop"))(sample)
    assert out["img"].shape == (427, 565, 3) and out["img_shape"] == (427, 565)
    np.testing.assert_array_equal(out["img"], image[45:472, 43:608])
    np.testing.assert_array_equal(out["gt_depth_map"], depth[45:472, 43:608])


def test_eigen_crop_refuses_a_frame_smaller_than_nyus():
    with pytest.raises(ValueError, match="needs the 480x640 NYUv2 frame, got 240x320"):
        TRANSFORMS.build(dict(type="NYUEigenCrop"))(_sample(240, 320))


def test_colour_augmentation_is_gamma_then_brightness_then_channel_colours():
    sample = _sample(4, 5)
    image = sample["img"].astype(np.float64)
    np.random.seed(3)
    out = TRANSFORMS.build(dict(type="DepthColorAug", prob=1.0))(dict(sample))
    np.random.seed(3)
    np.random.rand()  # the apply-or-not draw
    gamma, brightness = np.random.uniform(0.9, 1.1), np.random.uniform(0.75, 1.25)
    colors = np.random.uniform(0.9, 1.1, size=3)
    expected = np.clip(image ** gamma * brightness * colors, 0, 255)
    np.testing.assert_allclose(out["img"], expected, rtol=1e-6)
    assert not np.allclose(out["img"], image)
    untouched = TRANSFORMS.build(dict(type="DepthColorAug", prob=0.0))(dict(sample))
    assert untouched["img"] is sample["img"]
