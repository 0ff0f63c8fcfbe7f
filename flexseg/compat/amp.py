"""Mixed precision for training and evaluation, on a GPU and on the CPU.

    python tools/train.py CONFIG --amp                        # float16, dynamic loss scaling
    python tools/train.py CONFIG --amp --amp-dtype bfloat16   # bfloat16 (no scaling needed)
    python tools/test.py CONFIG CKPT --amp [--amp-dtype bfloat16]

or in a config: ``optim_wrapper=dict(type='AmpOptimWrapper', dtype='bfloat16', ...)`` and
``val_cfg=dict(type='MultiBudgetValLoop', fp16=True, amp_dtype='bfloat16')``.

- Training: mmengine's ``AmpOptimWrapper`` (autocast around the forward pass, a GradScaler
  around backward and step). It refuses to start without a GPU, so on the CPU the same config
  runs ``CPUAmpOptimWrapper``: CPU autocast, bfloat16 unless float16 is asked for, and loss
  scaling only for float16 (bfloat16 has float32's exponent range).
- Evaluation: the multi-budget loops take ``fp16`` and ``amp_dtype``; MMEngine's own
  ``ValLoop``/``TestLoop`` only ``fp16``, in autocast's default dtype (float16 on CUDA,
  bfloat16 on the CPU).
- Without a dtype, autocast's default for the device is used: float16 on CUDA, bfloat16 on the
  CPU (as mmengine's ``autocast``).
"""
from __future__ import annotations

import contextlib
import importlib
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.structures import BaseDataElement

AMP_DTYPES = ("float16", "bfloat16")
AMP_WRAPPER = "AmpOptimWrapper"
CPU_AMP_WRAPPER = "CPUAmpOptimWrapper"
MULTI_BUDGET_LOOPS = ("MultiBudgetValLoop", "MultiBudgetTestLoop")
STOCK_EVAL_LOOPS = ("ValLoop", "TestLoop")


def check_amp_dtype(dtype: object) -> torch.dtype | None:
    """'float16'/'bfloat16' (or the torch dtype) -> torch dtype; None stays None."""
    if dtype is None:
        return None
    name = str(dtype).removeprefix("torch.")
    if name not in AMP_DTYPES:
        raise ValueError(f"the autocast dtype must be one of {', '.join(AMP_DTYPES)}, got "
                         f"{dtype!r}")
    return getattr(torch, name)


def default_amp_dtype(device_type: str) -> torch.dtype:
    return torch.float16 if device_type == "cuda" else torch.bfloat16


def autocast_on(device_type: str, enabled: bool, dtype: object = None
                ) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device_type`` in ``dtype`` (default: the device's default)."""
    if not enabled:
        return contextlib.nullcontext()
    if device_type == "cpu":
        mmcv_cpu_ops_take_half_precision()
    return torch.autocast(device_type, dtype=check_amp_dtype(dtype) or
                          default_amp_dtype(device_type))


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` on the CPU: CPU autocast in ``dtype`` (default bfloat16), loss
    scaling (``loss_scale``: 'dynamic', a fixed float or GradScaler arguments) for float16 only.
    Checkpoints hold the scaler's state under the same key as ``AmpOptimWrapper``'s."""

    def __init__(self, loss_scale: str | float | dict = "dynamic",
                 dtype: str | torch.dtype | None = None, use_fsdp: bool = False,
                 **kwargs) -> None:
        if use_fsdp:
            raise ValueError("use_fsdp needs a GPU")
        OptimWrapper.__init__(self, **kwargs)  # AmpOptimWrapper's own asserts a GPU
        self.cast_dtype = check_amp_dtype(dtype) or default_amp_dtype("cpu")
        self._scale_update_param = None
        if loss_scale == "dynamic":
            options = {}
        elif isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            options = dict(init_scale=loss_scale)
        elif isinstance(loss_scale, dict):
            options = dict(loss_scale)
        else:
            raise TypeError(f"loss_scale must be 'dynamic', a float or a dict, got "
                            f"{loss_scale!r}")
        self.loss_scaler = torch.amp.GradScaler(
            "cpu", enabled=self.cast_dtype == torch.float16, **options)
        mmcv_cpu_ops_take_half_precision()

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        with OptimWrapper.optim_context(self, model), torch.autocast("cpu",
                                                                     dtype=self.cast_dtype):
            yield


LOW_PRECISION = (torch.float16, torch.bfloat16)


def _float32_on_cpu(tensor: torch.Tensor) -> torch.Tensor:
    low = tensor.device.type == "cpu" and tensor.dtype in LOW_PRECISION
    return tensor.float() if low else tensor


def mmcv_cpu_ops_take_half_precision() -> None:
    """Let mmcv's CPU kernels run under CPU autocast: its NMS reads boxes as float32 and its
    RoIAlign has no bfloat16 kernel, so half-precision CPU inputs are cast to float32 first and
    RoIAlign's output back to its input's dtype (differentiable casts). CUDA inputs and float32
    pass unchanged. Applied once, when CPU autocast is used."""
    nms_module = importlib.import_module("mmcv.ops.nms")  # mmcv.ops.nms is also a function
    roi_align_module = importlib.import_module("mmcv.ops.roi_align")

    if getattr(nms_module.NMSop.forward, "flexseg_float32", False):
        return
    nms_forward = nms_module.NMSop.forward

    def nms_in_float32(ctx, bboxes, scores, *args):
        return nms_forward(ctx, _float32_on_cpu(bboxes), _float32_on_cpu(scores), *args)

    nms_in_float32.flexseg_float32 = True
    nms_module.NMSop.forward = staticmethod(nms_in_float32)
    roi_align = roi_align_module.roi_align

    def roi_align_in_float32(features, rois, *args):
        pooled = roi_align(_float32_on_cpu(features), _float32_on_cpu(rois), *args)
        return pooled.to(features.dtype)

    roi_align_module.roi_align = roi_align_in_float32


def float32_predictions(samples: list) -> list:
    """Data samples with their half-precision tensors in float32, in place: predictions made
    under autocast go to metrics that convert them to NumPy, which has no bfloat16."""
    for sample in samples:
        if isinstance(sample, BaseDataElement):
            _float32_fields(sample)
    return samples


def _float32_fields(element: BaseDataElement) -> None:
    for key, value in element.items():
        if isinstance(value, BaseDataElement):
            _float32_fields(value)
        elif isinstance(value, torch.Tensor) and value.dtype in LOW_PRECISION:
            element.set_field(value.float(), key, field_type="data")


def amp_wrapper_for_this_machine(wrapper_type: str) -> str:
    """``AmpOptimWrapper`` where a GPU is, ``CPUAmpOptimWrapper`` elsewhere."""
    if wrapper_type == AMP_WRAPPER and not torch.cuda.is_available():
        return CPU_AMP_WRAPPER
    return wrapper_type


def enable_amp(cfg: Config, dtype: str | None, train: bool) -> None:
    """What ``--amp [--amp-dtype D]`` sets: with ``train``, the optimizer wrapper (float16 gets
    dynamic loss scaling); the multi-budget evaluation loops in ``D``; MMEngine's own loops in
    their only dtype (the device's default) when ``D`` is that or not given."""
    torch_dtype = check_amp_dtype(dtype)
    if train:
        wrapper = cfg.optim_wrapper
        if wrapper.get("type", "OptimWrapper") not in ("OptimWrapper", AMP_WRAPPER,
                                                       CPU_AMP_WRAPPER):
            raise ValueError(f"--amp replaces OptimWrapper by AmpOptimWrapper; the config's "
                             f"optim_wrapper is a {wrapper['type']}")
        wrapper.type = amp_wrapper_for_this_machine(AMP_WRAPPER)
        wrapper.setdefault("loss_scale", "dynamic")
        if dtype is not None:
            wrapper.dtype = dtype
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for key in ("val_cfg", "test_cfg"):
        loop = cfg.get(key)
        if not loop:
            continue
        if loop.get("type") in MULTI_BUDGET_LOOPS:
            loop.fp16 = True
            if dtype is not None:
                loop.amp_dtype = dtype
        elif loop.get("type") in STOCK_EVAL_LOOPS:
            if torch_dtype in (None, default_amp_dtype(device)):
                loop.fp16 = True
            else:
                print_log(f"--amp-dtype {dtype}: MMEngine's {loop.type} ({key}) can only run "
                          f"autocast in {default_amp_dtype(device)} here; it stays in float32",
                          logger="current")
