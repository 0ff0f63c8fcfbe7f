"""The one way flexseg reaches into a module's forward: capture its output or serve a
precomputed one, for the duration of a ``with`` block.

``forward`` is wrapped on the instance rather than hooked: OpenMMLab heads call
``self.forward(...)`` directly in their ``loss``, which forward hooks never see, and serving an
output needs to skip the computation, which hooks cannot. The instance's previous ``forward``
(its class's, or one set on the instance) is restored when the block ends.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn


@contextlib.contextmanager
def wrapped_forward(module: nn.Module, wrapper: Callable[..., Any]) -> Iterator[None]:
    """Inside the block ``module(...)`` and ``module.forward(...)`` call
    ``wrapper(forward, *args, **kwargs)``, ``forward`` being the module's own."""
    own = module.__dict__.get("forward")
    module.forward = functools.partial(wrapper, module.forward)
    try:
        yield
    finally:
        if own is None:
            del module.forward
        else:
            module.forward = own


@contextlib.contextmanager
def capture_output(module: nn.Module) -> Iterator[dict]:
    """Yield a dict whose ``'output'`` is the last output of ``module`` inside the block."""
    captured: dict = {}

    def record(forward: Callable[..., Any], *args, **kwargs) -> Any:
        captured["output"] = forward(*args, **kwargs)
        return captured["output"]

    with wrapped_forward(module, record):
        yield captured


@contextlib.contextmanager
def serve_outputs(module: nn.Module, inputs: torch.Tensor | None,
                  outputs: Any | None) -> Iterator[dict]:
    """Inside the block ``module`` returns ``outputs`` when called on the tensor ``inputs``
    itself, and computes as usual on anything else (slide inference's crops, test-time
    augmentation), which sets ``whole_batch`` in the yielded dict to False. With ``outputs``
    None the module computes everything."""
    served = dict(whole_batch=outputs is not None)
    if outputs is None:
        yield served
        return

    def serve(forward: Callable[..., Any], x: torch.Tensor) -> Any:
        if x is inputs:
            return outputs
        served["whole_batch"] = False
        return forward(x)

    with wrapped_forward(module, serve):
        yield served
