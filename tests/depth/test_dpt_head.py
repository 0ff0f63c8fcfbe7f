"""DPTDepthHead: depth is positive and bounded by max_depth, any map size works, the loss
leaves out pixels without ground truth, and bad arguments are one clear line."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from flexseg.models import DPTDepthHead

LEVELS = [torch.randn(2, 16, 5, 7) for _ in range(4)]  # stride-8 maps of a 40x56 image


def _head(**kwargs) -> DPTDepthHead:
    torch.manual_seed(0)
    args = dict(in_channels=[16] * 4, channels=8, reassemble_channels=(4, 4, 8, 8),
                scales=(2, 1, 0.5, 0.25), head_channels=4, max_depth=5.0)
    return DPTDepthHead(**{**args, **kwargs})


@pytest.mark.parametrize("bias", [-50.0, 0.0, 50.0])
def test_depth_is_positive_and_at_most_max_depth(bias):
    head = _head()
    with torch.no_grad():
        head.regress[-1].bias.fill_(bias)
        depth = head(LEVELS)
    assert depth.shape[:2] == (2, 1)
    assert (depth > 0).all() and (depth <= 5.0).all()


def test_reassembles_four_strides_and_predicts_at_the_image_size():
    head = _head()
    pyramid = [stage(x) for stage, x in zip(head.reassemble, LEVELS)]
    assert [tuple(level.shape[-2:]) for level in pyramid] == [(10, 14), (5, 7), (3, 4), (2, 2)]
    metas = [dict(img_shape=(40, 56), pad_shape=(40, 56))] * 2
    with torch.no_grad():
        assert head.predict(LEVELS, metas, None).shape == (2, 1, 40, 56)


def test_loss_leaves_out_pixels_without_ground_truth():
    head = _head()
    gt = torch.rand(1, 40, 56) * 4 + 0.5
    gt[:, :20] = 0  # no depth on the top half
    sample = SegDataSample(gt_depth_map=PixelData(data=gt))
    pred = torch.rand(1, 1, 40, 56) * 4 + 0.5
    changed = pred.clone()
    changed[..., :19, :] = 9.0  # only where there is no ground truth (and not next to it)
    loss = head.loss_by_feat(pred, [sample])["loss_silog"]
    assert loss > 0
    torch.testing.assert_close(head.loss_by_feat(changed, [sample])["loss_silog"], loss)


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_depth=0), "max_depth must be a positive depth, got 0"),
    (dict(scales=(2, 1, 0.5)), r"must have one entry per level"),
    (dict(scales=(3, 1, 0.5, 0.4)), "a reassemble scale must be an integer or 1/integer, "
                                    "got 0.4"),
])
def test_bad_arguments_are_one_clear_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _head(**kwargs)
