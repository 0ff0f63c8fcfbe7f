# FlexiViT-S + UPerNet on ADE20K 512x512 over the joint space of patch sizes and token-keep
# rates (SuperViT: keep points after blocks 3, 6 and 9, rates {1, 0.7, 0.5}), trained with
# SuperViT's recipe: the largest choice on the task loss and two sampled cheaper choices
# distilled toward its prediction, one optimizer step per iteration.
_base_ = ['./flexivit-s_upernet_8xb2-160k_ade20k-512x512.py']
model = dict(backbone=dict(patch_sizes=[8, 12, 16, 24, 32, 48], keep_points=(3, 6, 9),
                           keep_rates=(1.0, 0.7, 0.5)))
train_cfg = dict(
    sampler=dict(_delete_=True, strategy='uniform', num_choices=2),
    distill=dict(mode='inplace'))
