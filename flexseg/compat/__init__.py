"""Narrow fixes the pinned OpenMMLab stack (mmengine 0.10.7, mmcv 2.1) needs on current torch.

Each fix is applied explicitly by the tools (``apply_all``) and has a test that fails without it.
"""
from .checkpoint import allow_mmengine_checkpoints
from .distributed import adapt_config_to_device, init_cpu_distributed
from .random_state import RandomStateHook, add_random_state_hook, preserved_random_state

__all__ = ["RandomStateHook", "add_random_state_hook", "allow_mmengine_checkpoints",
           "adapt_config_to_device", "init_cpu_distributed", "preserved_random_state"]
