# DigitSeg-NYU: the embedded depth data (tools/generate_digitseg.py --nyu-root) in mmseg's NYUv2
# layout, depth in millimetres (uint16 PNG). NYUv2's settings, except: 64x64 images, no depth
# mix, batches of 16 and no Eigen crop (it is defined on room photographs).
_base_ = ['./nyu_480x640.py']
data_root = 'data/digitseg_nyu'
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthMap', depth_rescale_factor=1e-3),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(batch_size=16, num_workers=2,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(crop_type=None)
test_evaluator = val_evaluator
