"""flexseg: flexible ViT backbones for dense prediction at many compute budgets."""

__version__ = "0.1.0"
