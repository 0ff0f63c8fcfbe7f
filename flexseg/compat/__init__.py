"""Narrow fixes the pinned OpenMMLab stack (mmengine 0.10.7, mmcv 2.1) needs on current torch.

Each fix is applied explicitly by the tools (``flexseg.cli.load_config``) and has a test that
fails without it.
"""
from .atomic_write import make_local_writes_atomic
from .checkpoint import allow_mmengine_checkpoints
from .distributed import adapt_config_to_device, init_cpu_distributed
from .interrupted_validation import RepeatInterruptedValidationHook
from .random_state import RandomStateHook, preserved_random_state
from .run_hooks import add_resume_hooks

__all__ = ["RandomStateHook", "RepeatInterruptedValidationHook", "add_resume_hooks",
           "allow_mmengine_checkpoints", "adapt_config_to_device", "init_cpu_distributed",
           "make_local_writes_atomic", "preserved_random_state"]
