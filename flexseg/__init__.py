"""flexseg: flexible ViT backbones for dense prediction at many compute budgets.

Importing the package registers its datasets and models in the MMSegmentation and MMDetection
registries (configs load it with ``custom_imports=dict(imports=['flexseg'])``).
"""
from . import budget, datasets, engine, evaluation, models  # noqa: F401  (registration side effects)

__version__ = "0.1.0"
