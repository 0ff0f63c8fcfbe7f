"""FlexDepthEstimator's test modes: slide with one window covering the image is whole
inference, slide_flip averages each window with its mirror, unknown modes are refused."""
import pytest
import torch

from tests.depth.conftest import FLEXIVIT_CONFIG, build_model, load_cfg

META = dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64))


def _model(**test_cfg):
    return build_model(load_cfg(FLEXIVIT_CONFIG, **{"model.test_cfg": test_cfg}))


def test_slide_with_one_window_covering_the_image_is_whole_inference():
    model = _model(mode="slide", crop_size=(64, 64), stride=(32, 32))
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        slide = model.inference(images, [dict(META), dict(META)])
        whole = model.whole_inference(images, [dict(META), dict(META)])
    torch.testing.assert_close(slide, whole)


def test_slide_flip_averages_each_window_with_its_mirror():
    model = _model(mode="slide_flip", crop_size=(64, 64), stride=(64, 64))
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        both = model.inference(images, [dict(META)])
        plain = model.whole_inference(images, [dict(META)])
        mirrored = model.whole_inference(images.flip(3), [dict(META)]).flip(3)
    assert not torch.allclose(plain, mirrored, atol=1e-4)
    torch.testing.assert_close(both, (plain + mirrored) / 2)


@pytest.mark.parametrize("test_cfg, message", [
    (dict(mode="sliding"), "test_cfg.mode must be one of whole, slide, slide_flip"),
    (dict(mode="slide"), "test_cfg.mode='slide' needs crop_size and stride"),
])
def test_bad_test_cfg_is_one_clear_line(test_cfg, message):
    with pytest.raises(ValueError, match=message):
        _model(**test_cfg)
