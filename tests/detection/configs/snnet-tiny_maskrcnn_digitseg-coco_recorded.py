# The tiny stitched detector with each rank recording what every iteration trained.
_base_ = ['./snnet-tiny_maskrcnn_digitseg-coco.py']
custom_imports = dict(imports=['flexseg', 'tests.budget.recorder'], allow_failed_imports=False)
custom_hooks = [dict(type='StitchInitHook', num_batches=1), dict(type='BudgetRecorderHook')]
