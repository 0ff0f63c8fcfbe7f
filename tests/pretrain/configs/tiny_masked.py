# The tiny FlexiViT pretrained on the masked-patch objective (tests).
_base_ = ['./tiny_flexivit.py']
objective = 'masked'
masked = dict(mask_ratio=0.5, target_size=4)
export = dict(name='tiny-masked', formats=['timm'], dtype='float32')
