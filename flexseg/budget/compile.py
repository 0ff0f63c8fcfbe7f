"""``torch.compile`` for flexible models: a bounded number of graphs, whatever the choice.

    python tools/train.py CONFIG --compile          # or tools/test.py CONFIG CKPT --compile
    custom_hooks = [dict(type='CompileHook', backend='inductor', mode=None, dynamic=None)]

Each choice is a different graph (another patch size, route or keep rate changes the Python
control flow and the token count), so dynamo guards on the active choice and compiles one graph
per choice and per mode (training, evaluation) for the backbone and for necks and heads with
per-choice BN statistics (``ChoiceBatchNorm``), and per distinct map shape for other necks and
heads (one for all choices when the maps have a fixed stride; ``part_graphs_bound``): at most
``graphs_bound`` = 2 x the number of choices per module, for inputs of one shape. Dynamo stops
compiling a function after ``recompile_limit`` graphs (8 by default) and runs it eagerly from
then on, so ``compile_model`` raises that limit to the bound first.

The forward methods of the backbone, neck and heads are compiled (the heads' loss and predict
methods call ``self.forward``): training steps (one sub-network or several), validation and
testing all run them, inside the DDP wrapper or not.
mmengine's own ``compile=True`` compiles only ``train_step`` (which the budget loop calls for
one sub-network per step, but not for the sandwich rule or distillation, and evaluation never)
with the data preprocessor, losses and optimizer inside (graph breaks), under the default
limit. The multi-budget loops run the backbone through ``forward_choices`` (which computes
once what choices share, outside ``forward``): there the backbone stays eager and the neck
and heads are compiled.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch._dynamo
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from flexseg.models.choice_norm import ChoiceBatchNorm
from flexseg.models.contract import FlexibleBackbone, find_flexible, unwrap

COMPILED_PARTS = ("backbone", "neck", "decode_head", "auxiliary_head")
MODES = 2  # training and evaluation


def graphs_bound(backbone: FlexibleBackbone) -> int:
    """Graphs one compiled module may need: one per choice and mode."""
    return MODES * len(backbone.space())


def part_graphs_bound(part: nn.Module, backbone: FlexibleBackbone) -> int:
    """Graphs a compiled part needs over the whole space for inputs of one shape: one per
    choice and mode if it reads the active choice (the backbone; per-choice BN statistics),
    else one per mode (a neck or head fed maps of one shape, at a fixed stride)."""
    if part is backbone or any(isinstance(m, ChoiceBatchNorm) for m in part.modules()):
        return graphs_bound(backbone)
    return MODES


def allow_recompiles(count: int) -> None:
    """Let dynamo compile ``count`` graphs per function before it gives up on one."""
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, count)
    config.accumulated_recompile_limit = max(config.accumulated_recompile_limit, count)


def compile_model(model: nn.Module, **options) -> list[str]:
    """Compile the backbone, neck and heads of ``model`` (a wrapper's inner model) in place
    with ``torch.compile(**options)``; returns the names of the compiled parts."""
    module = unwrap(model)
    allow_recompiles(graphs_bound(find_flexible(module)))
    # Each choice is its own graph: a keep rate or resolution must stay a constant, not become
    # a symbolic float after the second value (dynamo's default), which choice ids cannot format.
    torch._dynamo.config.specialize_float = True
    compiled = []
    for name in COMPILED_PARTS:
        part = getattr(module, name, None)
        parts = list(part) if isinstance(part, nn.ModuleList) else [part]
        for each in (p for p in parts if isinstance(p, nn.Module)):
            # The forward method, not __call__ (nn.Module.compile): heads call self.forward.
            each.forward = torch.compile(each.forward, **options)
        if any(isinstance(p, nn.Module) for p in parts):
            compiled.append(name)
    return compiled


@contextlib.contextmanager
def eager_forwards(model: nn.Module) -> Iterator[None]:
    """The compiled parts' own forward methods inside the block: mmengine's FLOP counter traces
    with ``torch.jit``, which compiled functions refuse."""
    compiled = [(module, vars(module)["forward"]) for module in model.modules()
                if hasattr(vars(module).get("forward"), "_torchdynamo_orig_callable")]
    for module, _ in compiled:
        del module.forward
    try:
        yield
    finally:
        for module, forward in compiled:
            module.forward = forward


def inductor_unavailable() -> str | None:
    """Why inductor cannot build CPU kernels on this machine (no C++ compiler), or None."""
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()  # inductor's own search (config.cpp.cxx, then g++)
    except Exception as error:  # noqa: BLE001 (its error types are private)
        return f"torch.compile's inductor backend needs a C++ compiler for CPU code ({error})"
    return None


def check_backend(backend: str) -> None:
    """ValueError for an unknown backend, or inductor on a CPU machine without a compiler."""
    known = torch._dynamo.list_backends(exclude_tags=())
    if backend not in known:
        raise ValueError(f"unknown torch.compile backend {backend!r}; known: "
                         f"{', '.join(known)}")
    reason = inductor_unavailable() if backend == "inductor" and \
        not torch.cuda.is_available() else None
    if reason:
        raise ValueError(f"{reason}; install g++ or choose another backend, e.g. aot_eager")


@HOOKS.register_module()
class CompileHook(Hook):
    """Compiles the model's backbone, neck and heads before training or testing (module doc).
    ``backend``, ``mode``, ``dynamic`` and ``options`` are ``torch.compile``'s."""

    priority = "VERY_HIGH"  # before hooks that run the model when the run starts

    def __init__(self, backend: str = "inductor", mode: str | None = None,
                 dynamic: bool | None = None, options: dict | None = None) -> None:
        self.options = dict(backend=backend, mode=mode, dynamic=dynamic, options=options)

    def before_run(self, runner) -> None:
        check_backend(self.options["backend"])
        parts = compile_model(runner.model, **self.options)
        bound = graphs_bound(find_flexible(runner.model))
        print_log(f"torch.compile ({self.options['backend']}): {', '.join(parts)}; at most "
                  f"{bound} graphs each (choices x training/evaluation)", logger="current")
