"""Memoise tensors derived from parameters (resized kernels, resampled position embeddings).

At a fixed patch size an inference forward should cost what a plain ViT costs, so derived
weights are computed once and reused. An entry is stamped with the storage and in-place version
counter of every source parameter: optimiser steps, ``load_state_dict`` (in-place ``copy_``)
and device/dtype moves all change the stamp, so a stale entry is never returned.
"""
from __future__ import annotations

from typing import Callable, Hashable, Sequence

import torch


def _stamp(sources: Sequence[torch.Tensor]) -> tuple:
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in sources)


class EvalCache:
    """One derived tensor per key, recomputed whenever its sources change.

    Caching is used only when no gradient has to flow into the sources (eval/no-grad, or
    frozen sources); otherwise ``compute`` runs every call so autograd sees the derivation.
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[tuple, torch.Tensor]] = {}

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: Hashable, sources: Sequence[torch.Tensor],
            compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        if torch.is_grad_enabled() and any(t.requires_grad for t in sources):
            return compute()
        # Inference-mode tensors cannot be reused outside inference mode: keep them apart.
        full_key = (key, torch.is_inference_mode_enabled())
        stamp = _stamp(sources)
        entry = self._entries.get(full_key)
        if entry is not None and entry[0] == stamp:
            return entry[1]
        with torch.no_grad():
            value = compute()
        self._entries[full_key] = (stamp, value)
        return value
