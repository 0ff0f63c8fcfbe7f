"""Training batches read outside the training loop, for fits and calibrations run by hooks."""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn as nn
from torch.utils.data import DataLoader


def training_batches(loader, model: nn.Module, num_batches: int,
                     seed: int) -> Iterator[dict]:
    """``num_batches`` batches of ``loader``'s dataset and pipeline in a shuffled order fixed by
    ``seed``, passed through the model's data preprocessor in training mode; read only when
    iterated, so the training loop's own order and random state are untouched."""
    # Loaders with a batch sampler (e.g. mmdet's aspect-ratio grouping) keep the size there.
    batch_size = loader.batch_size or getattr(loader.batch_sampler, "batch_size", 1)
    generator = torch.Generator().manual_seed(seed)
    fit_loader = DataLoader(loader.dataset, batch_size=batch_size, shuffle=True,
                            generator=generator, collate_fn=loader.collate_fn, num_workers=0)
    for index, batch in enumerate(fit_loader):
        if index == num_batches:
            return
        yield model.data_preprocessor(batch, True)
