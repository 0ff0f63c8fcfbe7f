# The stitched DigitSeg config with the per-rank recording hook (tests/budget/recorder.py) after
# its stitching fit.
_base_ = ['../../../configs/snnet/snnet-tiny_upernet_digitseg-64x64.py']
custom_imports = dict(imports=['flexseg', 'tests.budget.recorder'], allow_failed_imports=False)
custom_hooks = [dict(type='StitchInitHook', num_batches=1), dict(type='BudgetRecorderHook')]
