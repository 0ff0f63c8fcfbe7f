"""Detection support: ViTDet's layer-wise learning-rate decay for flexseg backbones."""
from .layer_decay import LayerDecayOptimWrapperConstructor, decay_layer

__all__ = ["LayerDecayOptimWrapperConstructor", "decay_layer"]
