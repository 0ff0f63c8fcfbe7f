"""Resume mmengine runs under torch's safe (``weights_only``) checkpoint loading.

Since torch 2.6 ``torch.load`` refuses arbitrary objects, and mmengine 0.10.7 resumes with a plain
``torch.load`` from checkpoints that hold its ``HistoryBuffer`` (with NumPy arrays and, through its
``__getstate__``, references to its statistics methods, pickled via ``getattr``). Rather than
switching safe loading off, we (1) pickle a ``HistoryBuffer`` as a call of its own constructor
with plain lists, so no ``getattr`` is needed, and (2) allow exactly the types that remain.
Checkpoints written by stock mmengine (with ``getattr`` inside) are still refused.
"""
from __future__ import annotations

import copyreg

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _reduce_history_buffer(buffer: HistoryBuffer) -> tuple:
    # Statistics methods live on the class and are re-registered by imports, so only the data
    # is stored.
    return HistoryBuffer, (buffer._log_history.tolist(), buffer._count_history.tolist(),
                           buffer.max_length)


def _numpy_globals() -> list:
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
                     if name.endswith("DType")]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_mmengine_checkpoints() -> None:
    """Make mmengine checkpoints written from now on loadable with ``weights_only=True``."""
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
