"""Refuse a checkpoint that does not fit the model, before anything is evaluated or exported.

mmengine's ``load_from`` loads with ``strict=False``: a checkpoint of another model leaves the
misfitting weights at their initial values, logs one warning among hundreds of lines, and the
evaluation then reports metrics of a half-initialised model. Evaluation and export check first.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn as nn

from flexseg.models.checkpoint import unwrap_state_dict
from flexseg.models.choice_norm import ROW_BUFFERS, ChoiceBatchNorm
from flexseg.models.contract import unwrap

SHOWN = 5  # keys named per kind of mismatch


def check_checkpoint_fits(model: nn.Module, path: str | Path) -> None:
    """Raise ValueError naming the first missing, unexpected and misshapen keys, if any."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"checkpoint {path} is truncated or not a PyTorch checkpoint")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(f"checkpoint {path} holds objects safe loading refuses: {error}") \
            from None
    state = unwrap_state_dict(saved, prefix="")
    own = unwrap(model).state_dict()
    by_choice = choice_rows(model)
    missing = [k for k in own if k not in state and not (
        k in by_choice and f"{k.rsplit('.', 1)[0]}.running_mean" in state)]  # stock BN saved
    unexpected = [k for k in state if k not in own]
    misshapen = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                 if k in state and state[k].shape != v.shape and k not in by_choice]
    problems = [f"{label} ({len(keys)}): {', '.join(keys[:SHOWN])}"
                for label, keys in (("shapes differ", misshapen), ("missing", missing),
                                    ("unexpected", unexpected)) if keys]
    if problems:
        raise ValueError(f"checkpoint {path} does not fit the config's model; "
                         + "; ".join(problems))


def choice_rows(model: nn.Module) -> set[str]:
    """Keys of per-choice statistics: as many rows as the saved model had choices, mapped onto
    this model's by id when loaded (``ChoiceBatchNorm``)."""
    return {f"{name}.{buffer}" for name, module in unwrap(model).named_modules()
            if isinstance(module, ChoiceBatchNorm) for buffer in (*ROW_BUFFERS, "choice_ids")}
