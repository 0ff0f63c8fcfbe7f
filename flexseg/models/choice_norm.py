"""Batch norm with running statistics per choice of the flexible backbone
(``norm_cfg=dict(type='ChoiceBatchNorm')``).

A neck or head after a flexible backbone sees features whose statistics depend on the choice:
a p4 map is not distributed like a p16 map. Stock BN keeps one running mean and variance, a
mixture over every choice trained, and normalises each choice at test time with it: on the
DigitSeg main job that cost p4 13.5 mIoU (docs/results.md, ip-p8 vs ip-p8-cbn). Slimmable
networks (switchable BN) and BigNAS/OFA (per-child BN recalibration) fix the same mismatch;
here each choice keeps its own running statistics while training, the affine weights stay
shared, and evaluation uses the active choice's. A choice never trained falls back to the
shared statistics, so a checkpoint of one fixed choice behaves as with stock BN.

The layer learns the active choice from the model's flexible backbone: ``find_flexible``
links every ``ChoiceBatchNorm`` of the model to it (every path that switches choices goes
through it). Statistics are per process: under DDP each rank tracks its own rows, and the
checkpoint keeps rank 0's.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from flexseg.registry import register_model


ROW_BUFFERS = ("choice_mean", "choice_var", "choice_updates")


def encode_ids(ids: list[str]) -> torch.Tensor:
    """Choice ids as a byte tensor, so that a checkpoint says whose rows it holds."""
    return torch.tensor(list(",".join(ids).encode()), dtype=torch.uint8)


def decode_ids(encoded: torch.Tensor) -> list[str]:
    text = bytes(encoded.tolist()).decode()
    return text.split(",") if text else []


@register_model
class ChoiceBatchNorm(nn.BatchNorm2d):
    """``BatchNorm2d`` plus one row of running statistics per choice: buffers
    ``choice_mean``/``choice_var``, ``choice_updates`` (0: never trained, use the shared
    statistics) and ``choice_ids`` (whose rows they are). Rows follow the ids, not positions:
    a checkpoint of other choices (a fixed p8 model run at every size) loads its own rows and
    leaves the rest untrained."""

    _abbr_ = "bn"  # the attribute name mmcv's ConvModule gives it, as for BN

    def __init__(self, num_features: int, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.register_buffer("choice_mean", torch.zeros(0, num_features))
        self.register_buffer("choice_var", torch.ones(0, num_features))
        self.register_buffer("choice_updates", torch.zeros(0, dtype=torch.long))
        self.register_buffer("choice_ids", encode_ids([]))
        self._rows: dict[str, int] = {}
        self._backbone: weakref.ref | None = None

    def link(self, backbone: nn.Module, choice_ids: list[str]) -> None:
        """Follow ``backbone``'s active choice, with one row per id of its space."""
        self._backbone = weakref.ref(backbone)
        rows = self._rows_for(choice_ids, *(getattr(self, name) for name in ROW_BUFFERS),
                              decode_ids(self.choice_ids))
        for name, value in zip(ROW_BUFFERS, rows):
            setattr(self, name, value)
        self.choice_ids = encode_ids(choice_ids).to(self.choice_ids.device)
        self._rows = {choice_id: row for row, choice_id in enumerate(choice_ids)}

    def _rows_for(self, ids: list[str], mean: torch.Tensor, var: torch.Tensor,
                  updates: torch.Tensor, held: list[str]) -> tuple[torch.Tensor, ...]:
        """Rows for ``ids`` taken from rows held for ``held`` (new ids untrained)."""
        device = self.running_mean.device
        out = (torch.zeros(len(ids), self.num_features, device=device),
               torch.ones(len(ids), self.num_features, device=device),
               torch.zeros(len(ids), dtype=torch.long, device=device))
        for row, choice_id in enumerate(ids):
            if choice_id in held:
                for target, source in zip(out, (mean, var, updates)):
                    target[row] = source[held.index(choice_id)]
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Saved rows are mapped onto this layer's ids (or adopted with their ids before the
        layer is linked); their count may differ from this layer's. A stock BN checkpoint
        (running statistics, no rows) leaves every row untrained: each choice then normalises
        with the loaded shared statistics, as that model did."""
        keys = [prefix + name for name in (*ROW_BUFFERS, "choice_ids")]
        if all(key in state_dict for key in keys):
            *saved, ids = (state_dict[key] for key in keys)
            held = decode_ids(ids)
        elif prefix + "running_mean" in state_dict and not any(k in state_dict for k in keys):
            saved, held = [getattr(self, name) for name in ROW_BUFFERS], []
        else:  # rows partly saved: left to the caller's missing-key check
            return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        own = decode_ids(self.choice_ids) if self._backbone is not None or not held else held
        rows = self._rows_for(own, *saved, held)
        for key, name, value in zip(keys, ROW_BUFFERS, rows):
            setattr(self, name, value)
            state_dict[key] = value
        self.choice_ids = encode_ids(own)
        state_dict[keys[-1]] = self.choice_ids
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _active_row(self) -> int | None:
        backbone = self._backbone() if self._backbone is not None else None
        return None if backbone is None else self._rows[backbone.active_choice.id]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        row = self._active_row()
        if row is None:
            return super().forward(x)
        if self.training:
            self._track(x, row)
            return super().forward(x)
        # the shared statistics for a choice never trained, picked on the device (no sync)
        trained = self.choice_updates[row] > 0
        mean = torch.where(trained, self.choice_mean[row], self.running_mean)
        var = torch.where(trained, self.choice_var[row], self.running_var)
        return F.batch_norm(x, mean, var, self.weight, self.bias, False, 0.0, self.eps)

    @torch.no_grad()
    def _track(self, x: torch.Tensor, row: int) -> None:
        """Move the row toward this batch's statistics exactly as BN moves its running ones
        (``momentum=None``: a cumulative average)."""
        dims = [0, *range(2, x.dim())]
        mean = x.float().mean(dims)
        var = x.float().var(dims, unbiased=True)
        rate = (self.momentum if self.momentum is not None  # no device sync by default
                else 1.0 / (int(self.choice_updates[row]) + 1))
        self.choice_mean[row].lerp_(mean.to(self.choice_mean.dtype), rate)
        self.choice_var[row].lerp_(var.to(self.choice_var.dtype), rate)
        self.choice_updates[row] += 1


def link_choice_norms(model: nn.Module, backbone: nn.Module) -> None:
    """Link every ``ChoiceBatchNorm`` of ``model`` to ``backbone`` (a FlexibleBackbone)."""
    norms = [m for m in model.modules() if isinstance(m, ChoiceBatchNorm)
             and (m._backbone is None or m._backbone() is not backbone)]
    if norms:
        ids = [choice.id for choice in backbone.space()]
        for norm in norms:
            norm.link(backbone, ids)
