"""Training-schedule pieces OpenMMLab lacks; importing registers them in mmengine's root
registries (visible from the mmseg and mmdet scopes)."""
from .one_cycle_momentum import OneCycleMomentum

__all__ = ["OneCycleMomentum"]
