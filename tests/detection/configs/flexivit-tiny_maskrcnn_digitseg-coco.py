# The DigitSeg-COCO FlexiViT detector shrunk for tests (32-d, 2 blocks, the first windowed).
_base_ = ['../../../configs/detection/flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py']
model = dict(
    backbone=dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, window_size=4,
                  global_indices=(1, ), out_indices=(1, ),
                  init_cfg=None),  # random: the pretrained weights are of another size
    neck=dict(in_channels=32, out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=32),
        mask_roi_extractor=dict(out_channels=16),
        mask_head=dict(in_channels=16, conv_out_channels=16)),
    test_cfg=dict(rcnn=dict(score_thr=0.0)))  # always some detections, even untrained
