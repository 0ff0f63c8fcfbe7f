"""Task-specific tensors of a fine-tuned model: what it does not share with a common backbone.

Tasks fine-tuned from one pretrained backbone with part of it frozen (attention-only
fine-tuning, ``FlexiViT(attn_only=True)``) keep the frozen tensors exactly as the shared file
set them. A task-specific export drops every backbone tensor equal to the one the shared file
gives this model (read through the backbone's own checkpoint filter, as ``init_cfg`` loads it)
and keeps the rest: the trained backbone tensors, the neck and the heads. Reloading applies the
shared file, then the task-specific tensors: together they give the fine-tuned model back bit
for bit. The export records the shared file's SHA-256, so that another file is refused.
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import torch
import torch.nn as nn

from flexseg.models.checkpoint import StateDict, load_pretrained
from flexseg.models.contract import unwrap

BACKBONE = "backbone."
META_KEY = "task_specific"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_shared(backbone: nn.Module, shared: str | Path) -> list[str]:
    """Load the shared file into ``backbone`` as its ``init_cfg`` would; returns the names
    of the backbone tensors the file set."""
    adapt = getattr(backbone, "checkpoint_filter", lambda state: state)
    report = load_pretrained(backbone, str(shared), adapt=adapt)
    return [name for name in backbone.state_dict() if name not in report.missing]


def shared_backbone_state(model: nn.Module, shared: str | Path) -> StateDict:
    """The backbone tensors ``model`` would hold straight after loading ``shared``."""
    backbone = copy.deepcopy(unwrap(model).backbone)
    names = _load_shared(backbone, shared)
    state = backbone.state_dict()
    return {name: state[name] for name in names}


def _same(first: torch.Tensor, second: torch.Tensor) -> bool:
    return (first.dtype == second.dtype and first.shape == second.shape
            and torch.equal(first, second))


def split_task_specific(model: nn.Module, shared: str | Path) -> tuple[StateDict, list[str]]:
    """(the tensors to keep, the keys the shared file provides unchanged)."""
    shared_state = shared_backbone_state(model, shared)
    kept, dropped = {}, []
    for key, value in unwrap(model).state_dict().items():
        name = key[len(BACKBONE):] if key.startswith(BACKBONE) else None
        if name in shared_state and _same(shared_state[name], value):
            dropped.append(key)
        else:
            kept[key] = value.detach().clone()
    return kept, dropped


def save_task_specific(model: nn.Module, shared: str | Path, out: str | Path) -> dict:
    """Write ``model``'s task-specific tensors to ``out``; returns what was kept and dropped
    (counts and bytes)."""
    kept, dropped = split_task_specific(model, shared)
    meta = {META_KEY: dict(shared_name=Path(shared).name, shared_sha256=file_sha256(shared),
                           shared_keys=dropped)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": meta, "state_dict": kept}, out)
    full = unwrap(model).state_dict()
    return dict(kept=len(kept), shared=len(dropped),
                kept_backbone_bytes=_bytes(v for k, v in kept.items() if k.startswith(BACKBONE)),
                backbone_bytes=_bytes(v for k, v in full.items() if k.startswith(BACKBONE)),
                kept_bytes=_bytes(kept.values()))


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def load_task_specific(model: nn.Module, path: str | Path, shared: str | Path) -> nn.Module:
    """Load a task-specific export and the shared file it was made against into ``model``
    (built from the task's config); raises ValueError in one line if the files do not go
    together or leave a tensor of the model unset."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    meta = saved.get("meta", {}).get(META_KEY) if isinstance(saved, dict) else None
    if meta is None:
        raise ValueError(f"{path} is not a task-specific export "
                         "(tools/export.py --only-task-specific)")
    if file_sha256(shared) != meta["shared_sha256"]:
        raise ValueError(f"{shared} is not the shared file {path} was exported against (it "
                         f"expects {meta['shared_name']}, SHA-256 {meta['shared_sha256'][:12]}…)")
    model = unwrap(model)
    state = saved["state_dict"]
    own = model.state_dict()
    unset = [key for key in own if key not in state and key not in meta["shared_keys"]]
    unexpected = [key for key in state if key not in own]
    if unset or unexpected:
        raise ValueError(f"{path} does not fit the config's model: "
                         f"{len(unset)} tensors unset (e.g. {unset[:3]}), "
                         f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    _load_shared(model.backbone, shared)
    model.load_state_dict(state, strict=False)
    return model
