# The main job's model trained at patch size 8 only: the fixed-size reference of
# docs/results.md, and the teacher of the distilled recipe
# (flexivit-ti6_upernet_distill-p8_1.3k_digitseg-64x64.py).
_base_ = ['./flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
model = dict(backbone=dict(patch_sizes=[8]))
train_cfg = dict(sampler=dict(_delete_=True, strategy='uniform'),
                 distill=None)  # one choice: nothing to sample or distil
