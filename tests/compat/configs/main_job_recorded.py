# The main job's config with a hook that records, per rank and iteration, the trained choice,
# the loss and a checksum of the weights (tests/budget/recorder.py).
_base_ = ['../../../configs/flexivit/flexivit-ti6_upernet_1.3k_digitseg-64x64.py']
custom_imports = dict(imports=['flexseg', 'tests.budget.recorder'], allow_failed_imports=False)
custom_hooks = [dict(type='BudgetRecorderHook')]
