"""fp32 islands: the computations that stay in float32 when the model runs under autocast.

Mixed precision (``torch.autocast``; mmengine's ``AmpOptimWrapper`` and ``--amp``) runs matrix
products and convolutions in float16 or bfloat16. A few of flexseg's computations lose too much
there or compute what must not depend on precision: PI-resizing a patch kernel, resampling
position embeddings, the least-squares stitching fit, the distillation KL term, the SiLog depth
loss and FLOP counting. Each runs inside ``float32_island()``, with its inputs cast to float32
by its own code; its outputs are float32 and equal the computation without autocast.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

AUTOCAST_DEVICES = ("cpu", "cuda")


@contextlib.contextmanager
def float32_island() -> Iterator[None]:
    """Autocast off, on every device where it is on, for the block (also a decorator)."""
    with contextlib.ExitStack() as stack:
        for device in AUTOCAST_DEVICES:
            if torch.is_autocast_enabled(device):
                stack.enter_context(torch.autocast(device, enabled=False))
        yield
