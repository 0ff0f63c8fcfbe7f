"""The hooks flexseg's tools add to every run so that a killed run resumes as if never killed."""
from __future__ import annotations

from mmengine.config import Config

# Registered by importing their modules (flexseg.compat does).
RESUME_HOOKS = ("RandomStateHook", "RepeatInterruptedValidationHook")


def add_resume_hooks(cfg: Config) -> None:
    """Add each of ``RESUME_HOOKS`` to the config's ``custom_hooks`` unless it is there."""
    hooks = list(cfg.get("custom_hooks") or [])
    present = {hook.get("type") for hook in hooks}
    cfg.custom_hooks = hooks + [dict(type=name) for name in RESUME_HOOKS if name not in present]
