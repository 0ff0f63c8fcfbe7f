"""The scale-invariant log loss as the monocular-depth toolbox SN-Netv2 and DPT trained with
(its ``SigLoss``, after AdaBins), which differs from mmseg's ``SiLogLoss``:

- one loss over all valid pixels of the batch, not a mean of per-image losses;
- ``sqrt(var(g) + 0.15 * mean(g) ** 2)`` with ``g = log(pred + eps) - log(gt + eps)``,
  ``eps = 1e-3`` and the unbiased variance, where mmseg computes
  ``sqrt(mean(g ** 2) - 0.5 * mean(g) ** 2)``;
- with ``warm_up``, the first ``warm_iter`` calls return ``sqrt(0.15 * mean(g) ** 2)`` only.

The warm-up count is a buffer, so a resumed run continues it (the release counts in a plain
attribute, which a resume resets).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from mmseg.registry import MODELS

VARIANCE_FOCUS = 0.15
EPS = 1e-3


@MODELS.register_module()
class SigLoss(nn.Module):
    """The release's scale-invariant log loss (module doc); pixels with depth 0 are invalid."""

    def __init__(self, loss_weight: float = 1.0, max_depth: float | None = None,
                 warm_up: bool = False, warm_iter: int = 100,
                 loss_name: str = "loss_depth") -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.max_depth = max_depth
        self.warm_up = warm_up
        self.warm_iter = warm_iter
        self._loss_name = loss_name
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = target > 0
        if self.max_depth is not None:
            valid &= target <= self.max_depth
        g = torch.log(pred[valid] + EPS) - torch.log(target[valid] + EPS)
        if self.warm_up and int(self.calls) < self.warm_iter:
            if self.training:
                self.calls += 1
            return self.loss_weight * torch.sqrt(VARIANCE_FOCUS * g.mean() ** 2)
        return self.loss_weight * torch.sqrt(torch.var(g) + VARIANCE_FOCUS * g.mean() ** 2)
