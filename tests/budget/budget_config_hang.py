# The budget test config with rank 1 stuck at iteration 1 and a 15-second collective timeout.
_base_ = ['./budget_config.py']
custom_hooks = [dict(type='BudgetRecorderHook'), dict(type='HangingRankHook', rank=1, at_iter=1)]
env_cfg = dict(dist_cfg=dict(timeout=15))
