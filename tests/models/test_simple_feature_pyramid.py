"""Simple feature pyramid: strides 4-64 from one stride-16 map, accepted by mmdet's heads."""
import pytest
import torch

from flexseg.models import SimpleFeaturePyramid


def test_outputs_strides_4_to_64_from_a_stride_16_map():
    neck = SimpleFeaturePyramid(in_channels=32, out_channels=16)
    outputs = neck((torch.randn(2, 32, 3, 5), torch.randn(2, 32, 4, 6)))  # uses the last input
    assert [tuple(o.shape) for o in outputs] == [(2, 16, 16, 24), (2, 16, 8, 12), (2, 16, 4, 6),
                                                 (2, 16, 2, 3), (2, 16, 1, 2)]


def test_a_stride_4_map_gives_the_same_strides_its_coarse_levels_max_pooled():
    """The DigitSeg detector's layout (scales 1 ... 1/8 of a stride-4 map): strides 4-64, the
    level at stride 32 the 8x8 maximum of the map before its projection."""
    neck = SimpleFeaturePyramid(in_channels=32, out_channels=16,
                                scale_factors=(1.0, 0.5, 0.25, 0.125))
    feature = torch.randn(2, 32, 16, 24)
    outputs = neck((feature, ))
    assert [tuple(o.shape[-2:]) for o in outputs] == [(16, 24), (8, 12), (4, 6), (2, 3), (1, 2)]
    pooled = feature.unflatten(2, (2, 8)).unflatten(4, (3, 8)).amax(dim=(3, 5))
    torch.testing.assert_close(outputs[3], neck.projections[3](pooled))


def test_roi_align_reads_every_level_as_its_values():
    """mmcv's RoIAlign reads raw NCHW memory: the maps must be laid out as they index."""
    from mmcv.ops import RoIAlign

    neck = SimpleFeaturePyramid(in_channels=32, out_channels=16)
    rois = torch.tensor([[0, 3.0, 5.0, 40.0, 30.0], [1, 10.0, 2.0, 60.0, 50.0]])
    with torch.no_grad():
        for stride, level in zip((4, 8, 16, 32), neck((torch.randn(2, 32, 4, 4), ))):
            align = RoIAlign(7, spatial_scale=1 / stride, sampling_ratio=0)
            torch.testing.assert_close(align(level, rois), align(level.clone(
                memory_format=torch.contiguous_format), rois))


def test_rejects_unsupported_scales_and_too_few_outputs():
    with pytest.raises(ValueError, match="scale factors"):
        SimpleFeaturePyramid(32, scale_factors=(3.0,))
    with pytest.raises(ValueError, match="num_outs"):
        SimpleFeaturePyramid(32, num_outs=3)


def _faster_rcnn(embed_dim: int) -> dict:
    strides = [4, 8, 16, 32]
    return dict(
        type="FasterRCNN",
        data_preprocessor=dict(type="DetDataPreprocessor", mean=[0.0] * 3, std=[1.0] * 3,
                               pad_size_divisor=32),
        backbone=dict(type="FlexiViT", img_size=64, patch_size=8, embed_dim=embed_dim, depth=2,
                      num_heads=2, mlp_ratio=2.0, patch_sizes=[8, 16, 24]),
        neck=dict(type="SimpleFeaturePyramid", in_channels=embed_dim, out_channels=16),
        rpn_head=dict(
            type="RPNHead", in_channels=16, feat_channels=16,
            anchor_generator=dict(type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0],
                                  strides=strides + [64]),
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0)),
        roi_head=dict(
            type="StandardRoIHead",
            bbox_roi_extractor=dict(type="SingleRoIExtractor",
                                    roi_layer=dict(type="RoIAlign", output_size=7,
                                                   sampling_ratio=0),
                                    out_channels=16, featmap_strides=strides),
            bbox_head=dict(type="Shared2FCBBoxHead", in_channels=16, fc_out_channels=32,
                           roi_feat_size=7, num_classes=3,
                           bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                           target_stds=[0.1, 0.1, 0.2, 0.2]),
                           reg_class_agnostic=False,
                           loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False,
                                         loss_weight=1.0),
                           loss_bbox=dict(type="L1Loss", loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3,
                                   min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
                     sampler=dict(type="RandomSampler", num=64, pos_fraction=0.5,
                                  neg_pos_ub=-1, add_gt_as_proposals=False),
                     allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=100, nms=dict(type="nms", iou_threshold=0.7),
                              min_bbox_size=0),
            rcnn=dict(assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5,
                                    min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
                      sampler=dict(type="RandomSampler", num=32, pos_fraction=0.25,
                                   neg_pos_ub=-1, add_gt_as_proposals=True),
                      pos_weight=-1, debug=False)),
        test_cfg=dict(
            rpn=dict(nms_pre=200, max_per_img=100, nms=dict(type="nms", iou_threshold=0.7),
                     min_bbox_size=0),
            rcnn=dict(score_thr=0.0, nms=dict(type="nms", iou_threshold=0.5),
                      max_per_img=10)))


def test_feeds_mmdet_rpn_and_roi_heads_at_every_patch_size():
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict
    from mmengine.structures import InstanceData

    register_all_modules()
    torch.manual_seed(0)
    detector = MODELS.build(ConfigDict(_faster_rcnn(embed_dim=32)))
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64),
                                         ori_shape=(64, 64), scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[8.0, 8.0, 40.0, 36.0]]),
                                       labels=torch.tensor([1]))
    images = torch.rand(1, 3, 64, 64)
    for choice in ("p8", "p16", "p24"):
        detector.backbone.activate(choice)
        detector.train()
        total, log_vars = detector.parse_losses(detector.loss(images, [sample]))
        assert torch.isfinite(total) and "loss_rpn_cls" in log_vars and "loss_bbox" in log_vars
        total.backward()
        detector.eval()
        with torch.no_grad():
            result = detector.predict(images, [sample])[0]
        assert result.pred_instances.bboxes.shape[-1] == 4
