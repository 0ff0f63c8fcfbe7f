# Baseline: stock MMSegmentation ViT (192-d, 6 blocks, patch 8) + UPerNet on DigitSeg 64x64.
_base_ = [
    '../_base_/models/vit_upernet.py',
    '../_base_/datasets/digitseg.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/digitseg_1k.py',
]
randomness = dict(seed=0)
