"""Memoise tensors derived from parameters (resized kernels, resampled position embeddings).

At a fixed patch size an inference forward should cost what a plain ViT costs, so derived
weights are computed once and reused. An entry is stamped with the storage and in-place version
counter of every source parameter: optimiser steps, ``load_state_dict`` (in-place ``copy_``)
and device/dtype moves all change the stamp, so a stale entry is never returned. Keys can follow
the input (a position embedding per token grid, so per image size), so the least recently used
entries are dropped beyond ``MAX_ENTRIES``: a long evaluation over images of many sizes keeps
its memory flat. Under ``torch.export`` tracing an entry an eager pass made is reused as a
constant (``_exported``); under ``torch.compile`` the derivation is part of the graph.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, Sequence

import torch

MAX_ENTRIES = 32  # every patch size of a large space at a few image sizes


def _stamp(sources: Sequence[torch.Tensor]) -> tuple:
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in sources)


class EvalCache:
    """One derived tensor per key, recomputed whenever its sources change.

    Caching is used only when no gradient has to flow into the sources (eval/no-grad, or
    frozen sources); otherwise ``compute`` runs every call so autograd sees the derivation.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[Hashable, tuple[tuple, torch.Tensor]] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: Hashable, sources: Sequence[torch.Tensor],
            compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        if torch.is_grad_enabled() and any(t.requires_grad for t in sources):
            return compute()
        if torch.compiler.is_compiling() and not torch.compiler.is_exporting():
            # torch.compile: stamps (data_ptr) break the graph and a growing memo recompiles
            # it, so the derivation is traced into the graph instead.
            return compute()
        # Inference-mode tensors cannot be reused outside inference mode: keep them apart.
        full_key = (key, torch.is_inference_mode_enabled())
        if torch.compiler.is_exporting():
            return self._exported(full_key)
        stamp = _stamp(sources)
        entry = self._entries.get(full_key)
        if entry is not None and entry[0] == stamp:
            self._entries.move_to_end(full_key)
            return entry[1]
        with torch.no_grad():
            value = compute()
        self._entries[full_key] = (stamp, value)
        self._entries.move_to_end(full_key)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return value

    def _exported(self, full_key: tuple) -> torch.Tensor:
        """During ``torch.export`` tracing the sources are fake tensors without storage (no
        stamp) and derivations such as ``pinv`` have no ONNX operator: the graph takes the
        value an eager pass derived as a constant."""
        entry = self._entries.get(full_key)
        if entry is None:
            raise RuntimeError(f"nothing derived for {full_key[0]!r} yet: run the model once "
                               "eagerly at this choice and input size before exporting it")
        return entry[1]

    def __len__(self) -> int:
        return len(self._entries)
