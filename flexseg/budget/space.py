"""The budget space: every choice of a flexible backbone with its cost in the whole model.

GFLOPs are multiply-adds / 1e9 for ONE image of ``image_hw``, as mmengine counts them (one per
multiply-accumulate): the backbone analytically (``FlexibleBackbone.flops``, attention matmuls
included, which the counter misses in fused attention), plus whatever mmengine's counter finds
outside the backbone (neck, heads) on the model's inference path with that choice active. The
neck and heads are counted once per distinct ``output_signature`` of the backbone (choices whose
maps have the same shapes cost the same there), so large joint spaces are priced in seconds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, overload

import torch.nn as nn

from flexseg.layers import to_2tuple
from flexseg.layers.checks import check_number, check_size
from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice, FlexibleBackbone, find_flexible, unwrap

from .inference import count_flops_outside_backbone

# Heads that only training uses (mmseg's auxiliary heads): not part of the deployed model.
TRAINING_ONLY_HEADS = ("auxiliary_head",)


@dataclass(frozen=True)
class BudgetEntry:
    """One choice and what it costs in the whole model."""

    choice: Choice
    gflops: float
    backbone_gflops: float
    params: int

    @property
    def id(self) -> str:
        return self.choice.id


class BudgetSpace(Sequence[BudgetEntry]):
    """Budget entries sorted by GFLOPs (then id), measured at ``image_hw``."""

    def __init__(self, entries: Iterable[BudgetEntry], image_hw: Size2d) -> None:
        self.image_hw = to_2tuple(image_hw)
        self._entries = sorted(entries, key=lambda entry: (entry.gflops, entry.id))
        if not self._entries:
            raise ValueError("a budget space needs at least one choice")
        ids = self.ids()
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"choice ids must be unique; repeated: {', '.join(duplicates)}")

    @overload
    def __getitem__(self, index: int) -> BudgetEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[BudgetEntry]: ...

    def __getitem__(self, index):
        return self._entries[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f"BudgetSpace({', '.join(self.ids())}; {self[0].gflops:.4g}-"
                f"{self[-1].gflops:.4g} GFLOPs at {self.image_hw[0]}x{self.image_hw[1]})")

    def ids(self) -> list[str]:
        return [entry.id for entry in self._entries]

    def get(self, choice_id: str) -> BudgetEntry:
        for entry in self._entries:
            if entry.id == choice_id:
                return entry
        raise ValueError(f"unknown choice {choice_id!r}; available: {', '.join(self.ids())}")

    def restrict(self, min_gflops: float | None = None,
                 max_gflops: float | None = None) -> BudgetSpace:
        """The entries with ``min_gflops <= gflops <= max_gflops`` (None: no limit)."""
        low = float("-inf") if min_gflops is None else check_number("min_gflops", min_gflops)
        high = float("inf") if max_gflops is None else check_number("max_gflops", max_gflops)
        kept = [entry for entry in self._entries if low <= entry.gflops <= high]
        if not kept:
            raise ValueError(
                f"no choice within min_gflops={min_gflops}, max_gflops={max_gflops}; the space "
                f"spans {self[0].gflops:.4g} ({self[0].id}) to {self[-1].gflops:.4g} "
                f"({self[-1].id}) GFLOPs at {self.image_hw[0]}x{self.image_hw[1]}")
        return BudgetSpace(kept, self.image_hw)

    def largest(self, min_gflops: float | None = None,
                max_gflops: float | None = None) -> BudgetEntry:
        """The most expensive choice within the limits: the default eval choice and in-place
        distillation teacher of training, and a budget's pick without previous results."""
        return self.restrict(min_gflops, max_gflops)[-1]

    def without(self, choice_id: str) -> BudgetSpace:
        """The space less one choice (e.g. an in-place distillation teacher)."""
        self.get(choice_id)
        if len(self) == 1:
            raise ValueError(f"the space holds only {choice_id}; nothing would remain")
        return BudgetSpace([e for e in self._entries if e.id != choice_id], self.image_hw)

    def to_rows(self) -> list[dict]:
        return [dict(id=e.id, gflops=e.gflops, backbone_gflops=e.backbone_gflops,
                     params=e.params) for e in self._entries]

    def to_json(self, path: str | Path) -> None:
        document = dict(image_hw=list(self.image_hw), choices=self.to_rows())
        Path(path).write_text(json.dumps(document, indent=2) + "\n")


def _params_outside_backbone(model: nn.Module) -> int:
    return sum(param.numel() for name, child in model.named_children()
               if name != "backbone" and name not in TRAINING_ONLY_HEADS
               for param in child.parameters())


def _entry(model: nn.Module, backbone: FlexibleBackbone, choice: Choice, image_hw: Size2d,
           rest_cache: dict) -> BudgetEntry:
    backbone_flops = backbone.flops(choice, image_hw)
    params = backbone.params(choice)
    rest_flops = 0
    if model is not backbone:
        signature = backbone.output_signature(choice)
        if signature not in rest_cache:
            backbone.activate(choice)
            rest_cache[signature] = count_flops_outside_backbone(model, image_hw)
        rest_flops = rest_cache[signature]
        params += _params_outside_backbone(model)
    return BudgetEntry(choice, gflops=(backbone_flops + rest_flops) / 1e9,
                       backbone_gflops=backbone_flops / 1e9, params=params)


def build_budget_space(model: nn.Module, image_hw: Size2d) -> BudgetSpace:
    """Cost every choice of the model's flexible backbone (``model`` may be that backbone).

    Params count the backbone's ``params(choice)`` plus everything outside the backbone except
    training-only heads. The active choice is restored afterwards.
    """
    image_hw = check_size("image_hw", image_hw)
    model = unwrap(model)
    backbone = find_flexible(model)
    original = backbone.active_choice
    rest_cache: dict = {}
    try:
        entries = [_entry(model, backbone, choice, image_hw, rest_cache)
                   for choice in backbone.space()]
    finally:
        backbone.activate(original)
    return BudgetSpace(entries, image_hw)


def default_image_hw(cfg: Mapping) -> Size2d:
    """The size a config trains at: its segmentor's fixed input size, else its ``crop_size``."""
    preprocessor = (cfg.get("model") or {}).get("data_preprocessor") or {}
    for size in (preprocessor.get("size"), cfg.get("crop_size")):
        if size is not None:
            return to_2tuple(size)
    raise ValueError("cannot tell the training image size from the config (no "
                     "model.data_preprocessor.size or crop_size); set image_hw=(H, W)")


def format_table(space: BudgetSpace) -> str:
    """The space as an aligned text table, cheapest first."""
    header = ("choice", "GFLOPs", "backbone GFLOPs", "params (M)")
    rows = [(e.id, f"{e.gflops:.4f}", f"{e.backbone_gflops:.4f}", f"{e.params / 1e6:.3f}")
            for e in space]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"budget space at {space.image_hw[0]}x{space.image_hw[1]} (one image)"]
    for row in [header, *rows]:
        lines.append("  ".join(cell.rjust(width) if i else cell.ljust(width)
                               for i, (cell, width) in enumerate(zip(row, widths))))
    return "\n".join(lines)
