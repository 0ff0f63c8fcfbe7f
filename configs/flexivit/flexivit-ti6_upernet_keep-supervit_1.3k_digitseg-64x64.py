# FlexiViT-Ti6 + UPerNet on DigitSeg 64x64 with one joint budget space: patch sizes 8, 12 and 16
# times token-keep rates 1, 0.7 and 0.5 (ids p8, p8-k0.7, p16-k0.5, ...). Tokens are dropped
# after blocks 1 and 3 (rates compound) and put back in place for the head. SuperViT's recipe:
# each iteration the largest choice (p8) trains on the task loss and one sampled cheaper choice
# on the task loss plus the KL divergence to p8's detached prediction, in one optimizer step.
# The space stops at p8 so that the largest choice, trained every iteration, is a cheap one and
# the main job's 1,300 iterations fit in minutes on 2 CPU cores; the study trains the whole
# patch range x keep rates (docs/results.md).
_base_ = ['./flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
model = dict(backbone=dict(patch_sizes=[8, 12, 16], keep_points=(1, 3),
                           keep_rates=(1.0, 0.7, 0.5)))
train_cfg = dict(sampler=dict(_delete_=True, strategy='uniform', num_choices=1),
                 distill=dict(_delete_=True, mode='inplace'))
