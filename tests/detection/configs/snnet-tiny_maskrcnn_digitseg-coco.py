# The DigitSeg-COCO stitched detector shrunk for tests (16-d/2 and 32-d/4 anchors, windowed).
_base_ = ['../../../configs/detection/snnet-tiny_maskrcnn_sfp_digitseg-coco-64x64.py']
model = dict(
    backbone=dict(
        # random anchors: the pretrained ones are of another size
        small=dict(embed_dim=16, depth=2, num_heads=2, window_size=4, global_indices=(1, ),
                   init_cfg=None),
        large=dict(embed_dim=32, depth=4, num_heads=2, window_size=4, global_indices=(3, ),
                   init_cfg=None),
        routes=('S', 'L', 'S-L', 'L-S'),
        out_indices=(1, )),
    neck=dict(in_channels=32, out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=32),
        mask_roi_extractor=dict(out_channels=16),
        mask_head=dict(in_channels=16, conv_out_channels=16)),
    test_cfg=dict(rcnn=dict(score_thr=0.0)))
custom_hooks = [dict(type='StitchInitHook', num_batches=1)]
