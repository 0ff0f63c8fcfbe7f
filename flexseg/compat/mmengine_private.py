"""The private mmengine 0.10.7 members flexseg relies on, each behind one function.

``tests/compat/test_mmengine_private.py`` pins what each does (and the source of the pinned
release), so an mmengine upgrade that changes them fails there, not deep inside a training step.
"""
from __future__ import annotations

from typing import Any

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper


def run_forward(model: nn.Module, data: dict | tuple | list, mode: str) -> Any:
    """The model's forward on already preprocessed ``data`` (a dict as keywords, a tuple or
    list as positional arguments) in ``mode`` ('loss', 'predict' or 'tensor'): what
    ``train_step``/``val_step``/``test_step`` of mmengine's ``BaseModel`` and
    ``MMDistributedDataParallel`` run after the data preprocessor, so several sub-networks can
    share one preprocessed batch."""
    return model._run_forward(data, mode=mode)


def accumulative_counts(optim_wrapper: OptimWrapper) -> int:
    """How many ``update_params`` calls the wrapper accumulates gradients over before it steps
    (the config's ``optim_wrapper.accumulative_counts``)."""
    return optim_wrapper._accumulative_counts


def forget_logger(logger: MMLogger) -> None:
    """Close ``logger``'s handlers and drop it from mmengine's registry of loggers. mmengine
    logs every later message of the process (``print_log``, ``init_weights``) through the
    newest logger, so a runner whose work folder is deleted after it finishes (a temporary
    one) must be forgotten first; otherwise the next message fails to reopen its log file."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    MMLogger._instance_dict.pop(logger.instance_name, None)
