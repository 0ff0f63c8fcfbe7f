# SN-Netv2 (DeiT-III S and L stitched, 134 routes) + UPerNet on COCO-Stuff-10K 512x512,
# 40k iterations on 8 GPUs x 2 images; the ADE20K stitch recipe with mmseg's COCOStuffDataset.
_base_ = ['./snnet-deit3-s-l_upernet_ade20k-512x512.py',
          '../_base_/datasets/coco_stuff10k_swap.py']
num_classes = 171
max_iters = 40000
model = dict(decode_head=dict(num_classes=num_classes),
             auxiliary_head=dict(num_classes=num_classes))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters // 10))
train_dataloader = dict(dataset={{_base_.coco_stuff10k_train}})
val_dataloader = dict(dataset={{_base_.coco_stuff10k_val}})
test_dataloader = val_dataloader
