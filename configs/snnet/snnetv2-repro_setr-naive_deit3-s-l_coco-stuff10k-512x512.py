# SN-Netv2 as released on COCO-Stuff-10K: the ADE20K reproduction config with 171 classes and
# the release's 80k-iteration schedule (segmentation/configs/snnet/
# setr_naive_512x512_80k_b16_coco_stuff10k_deit_3_s_l_224_snnetv2.py). The release's config sets
# no data preprocessor (mmseg 1.x would then neither normalise nor batch the images); this one
# keeps the ADE20K config's, which its numbers need.
_base_ = ['./snnetv2-repro_setr-naive_deit3-s-l_ade20k-512x512.py',
          '../_base_/datasets/coco_stuff10k_swap.py']
num_classes = 171
max_iters = 80000
norm_cfg = dict(type='SyncBN', requires_grad=True)
setr_head = dict(
    type='SETRUPHead', in_channels=1024, channels=256, in_index=3, num_classes=num_classes,
    dropout_ratio=0, norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'), num_convs=1, up_scale=4,
    kernel_size=1, align_corners=False,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
aux_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)
model = dict(
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=[dict(setr_head, in_index=level, num_convs=2, loss_decode=aux_loss)
                    for level in (0, 1, 2)])
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters // 10))
train_dataloader = dict(dataset={{_base_.coco_stuff10k_train}})
val_dataloader = dict(dataset={{_base_.coco_stuff10k_val}})
test_dataloader = val_dataloader
