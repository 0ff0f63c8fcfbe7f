"""Distillation between sub-networks: what a student is pulled toward, and how hard.

One mechanism serves every recipe that trains several sub-networks per step:

- in-place distillation (once-for-all, BigNAS, SuperViT): the first choice of a step trains on
  the task loss alone and its output, detached, becomes the target of the other choices;
- teacher distillation (FlexiViT): a frozen model built from any config and checkpoint gives
  the target once per batch, and every sampled choice is pulled toward it.

The distilled output is that of one submodule of the model (``module``, default
``decode_head``: a segmentor's logits), captured by ``models.intercept.capture_output``, so
the task's own forward and losses run unchanged. Students minimise
``task_weight * task loss + weight * distance``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODELS

from flexseg.layers.checks import is_number
from flexseg.layers.precision import float32_island
from flexseg.models.checkpoint import unwrap_state_dict
from flexseg.compat.checkpoint_fit import choice_rows
from flexseg.models.contract import FlexibleBackbone, find_flexible, unwrap
from flexseg.models.intercept import capture_output

DISTILL_MODES = ("inplace", "teacher")
DISTANCES = ("kl", "mse")
Output = torch.Tensor | Sequence[torch.Tensor]


def _as_tensors(output: Output) -> list[torch.Tensor]:
    return [output] if isinstance(output, torch.Tensor) else list(output)


def _match_size(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A teacher map resized (bilinear) to the student's spatial size when they differ."""
    if target.dim() == 4 and target.shape[-2:] != like.shape[-2:]:
        return F.interpolate(target, size=like.shape[-2:], mode="bilinear", align_corners=False)
    return target


@float32_island()
def distillation_distance(student: Output, target: Output, distance: str = "kl",
                          temperature: float = 1.0) -> torch.Tensor:
    """Mean distance of ``student`` to the detached ``target``.

    'kl': KL(target || student) between softmaxes over dim 1 (classes) at ``temperature``,
    summed over classes, averaged over positions and scaled by ``temperature ** 2`` (Hinton).
    'mse': mean squared error, averaged over the tensors of a tuple (e.g. feature maps).
    Computed in float32, under autocast too (an fp32 island).
    """
    pairs = list(zip(_as_tensors(student), _as_tensors(target), strict=True))
    terms = []
    for out, ref in pairs:
        out = out.float()
        ref = _match_size(ref.detach().float(), out)
        if distance == "kl":
            log_p = F.log_softmax(out / temperature, dim=1)
            log_q = F.log_softmax(ref / temperature, dim=1)
            kl = F.kl_div(log_p, log_q, reduction="none", log_target=True).sum(dim=1)
            terms.append(kl.mean() * temperature ** 2)
        else:
            terms.append(F.mse_loss(out, ref))
    return torch.stack(terms).mean()


def _submodule(model: nn.Module, name: str) -> nn.Module:
    try:
        return unwrap(model).get_submodule(name)
    except AttributeError:
        children = ", ".join(n for n, _ in unwrap(model).named_children())
        raise ValueError(f"distill.module {name!r} is not a submodule of "
                         f"{type(unwrap(model)).__name__} (it has: {children})") from None


def read_model_state(path: str) -> dict[str, torch.Tensor]:
    """All weights of a saved OpenMMLab model (safe loading: tensors and mmengine's types)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    # An empty prefix keeps every key (neck and heads too), not only the backbone's.
    return unwrap_state_dict(saved, prefix="")


class FrozenTeacher:
    """A model from ``config`` + ``checkpoint`` in eval mode, outside the trained model: no
    optimizer sees it, no checkpoint stores it, and it never receives gradients."""

    def __init__(self, config: str, checkpoint: str, module: str, choice: str | None,
                 device: torch.device) -> None:
        cfg = Config.fromfile(config)
        self.model = MODELS.build(cfg.model)
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"teacher checkpoint not found: {checkpoint}; train the "
                                    f"teacher first (python tools/train.py {config})")
        result = self.model.load_state_dict(read_model_state(checkpoint), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise ValueError(f"teacher checkpoint {checkpoint} does not fit {config}: missing "
                             f"{result.missing_keys[:5]}, unexpected "
                             f"{result.unexpected_keys[:5]}")
        self.model.to(device).eval().requires_grad_(False)
        self.module = _submodule(self.model, module)
        backbone = getattr(self.model, "backbone", None)
        if isinstance(backbone, FlexibleBackbone):
            find_flexible(self.model)  # its per-choice norms follow its choice
            space = backbone.space()
            if choice is None and len(space) > 1:
                raise ValueError(f"the teacher's backbone has several choices "
                                 f"({', '.join(c.id for c in space)}); set distill.teacher.choice")
            backbone.activate(choice if choice is not None else space[0])
        elif choice is not None:
            raise ValueError("distill.teacher.choice needs a teacher with a flexible backbone")

    @torch.no_grad()
    def __call__(self, data: Mapping) -> Output:
        with capture_output(self.module) as captured:
            self.model(**data, mode="tensor")
        return captured["output"]

    def init_student(self, student: nn.Module) -> None:
        """Copy the teacher's weights into ``student`` (backbone keys through its checkpoint
        filter, e.g. PI-resizing the patch kernel); every student weight must be covered."""
        student = unwrap(student)
        state = dict(self.model.state_dict())  # as loaded (stock BN checkpoints get rows)
        backbone = find_flexible(student)
        adapt = getattr(backbone, "checkpoint_filter", None)
        if adapt is not None:
            inner = adapt({k[len("backbone."):]: v for k, v in state.items()
                           if k.startswith("backbone.")})
            state = {k: v for k, v in state.items() if not k.startswith("backbone.")}
            state.update({f"backbone.{k}": v for k, v in inner.items()})
        own = student.state_dict()
        by_choice = choice_rows(student)  # per-choice statistics: mapped by id on loading
        mismatched = [k for k, v in state.items()
                      if k in own and own[k].shape != v.shape and k not in by_choice]
        missing = [k for k in own if k not in state]
        if mismatched or missing:
            raise ValueError(f"cannot initialise the student from the teacher: shapes differ "
                             f"for {mismatched[:5]}, missing {missing[:5]}")
        student.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
        print_log("distillation: student initialised from the teacher's weights",
                  logger="current")


@dataclass(frozen=True)
class DistillConfig:
    """``train_cfg.distill`` of the budget loops (see ``flexseg.budget.loop``)."""

    mode: str = "inplace"
    module: str = "decode_head"
    distance: str = "kl"
    weight: float = 1.0
    task_weight: float = 1.0
    temperature: float = 1.0
    teacher_choice: str | None = None
    teacher_only_iters: int = 0
    teacher: dict | None = None
    init_student: bool = False
    choice_weights: dict | None = None  # choice id -> its own ``weight`` (e.g. 0: task only)
    skip_idle_teacher: bool = False  # in-place: no teacher step when no student uses it

    def student_weight(self, choice_id: str | None) -> float:
        """The distillation weight of the student ``choice_id``."""
        return (self.choice_weights or {}).get(choice_id, self.weight)

    @classmethod
    def from_dict(cls, options: Mapping) -> DistillConfig:
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"unknown distill keys {', '.join(unknown)}; allowed: "
                             f"{', '.join(allowed)}")
        config = cls(**options)
        config.check()
        return config

    def check(self) -> None:
        if self.mode not in DISTILL_MODES:
            raise ValueError(f"distill.mode must be one of {DISTILL_MODES}, got {self.mode!r}")
        if self.distance not in DISTANCES:
            raise ValueError(f"distill.distance must be one of {DISTANCES}, got "
                             f"{self.distance!r}")
        for name in ("weight", "task_weight"):
            value = getattr(self, name)
            if not is_number(value) or value < 0:
                raise ValueError(f"distill.{name} must be a non-negative number, got {value!r}")
        if self.choice_weights is not None and (
                not isinstance(self.choice_weights, Mapping)
                or not all(isinstance(k, str) and is_number(v) and v >= 0
                           for k, v in self.choice_weights.items())):
            raise ValueError(f"distill.choice_weights must map choice ids to non-negative "
                             f"numbers, e.g. dict(p4=0.0), got {self.choice_weights!r}")
        if not isinstance(self.skip_idle_teacher, bool):
            raise ValueError(f"distill.skip_idle_teacher must be True or False, got "
                             f"{self.skip_idle_teacher!r}")
        if not is_number(self.temperature) or self.temperature <= 0:
            raise ValueError(f"distill.temperature must be positive, got {self.temperature!r}")
        if isinstance(self.teacher_only_iters, bool) or \
                not isinstance(self.teacher_only_iters, int) or self.teacher_only_iters < 0:
            raise ValueError(f"distill.teacher_only_iters must be a whole number of iterations "
                             f">= 0, got {self.teacher_only_iters!r}")
        if not isinstance(self.module, str) or not self.module:
            raise ValueError(f"distill.module must name a submodule of the model, e.g. "
                             f"'decode_head', got {self.module!r}")
        if self.mode == "teacher":
            teacher = self.teacher
            if not isinstance(teacher, Mapping) or \
                    set(teacher) - {"config", "checkpoint", "choice"} or \
                    not {"config", "checkpoint"} <= set(teacher):
                raise ValueError("distill.mode='teacher' needs teacher=dict(config=..., "
                                 "checkpoint=...[, choice=...]), got " + repr(self.teacher))
            if self.teacher_choice is not None:
                raise ValueError("distill.teacher_choice applies to mode 'inplace'; a frozen "
                                 "teacher's own choice is teacher.choice")
            if self.teacher_only_iters:
                raise ValueError("distill.teacher_only_iters applies to mode 'inplace'; a "
                                 "frozen teacher is trained before the run")
            if self.skip_idle_teacher:
                raise ValueError("distill.skip_idle_teacher applies to mode 'inplace'; a "
                                 "frozen teacher costs no training step")
        elif self.teacher is not None or self.init_student:
            raise ValueError("distill.teacher and distill.init_student apply to mode 'teacher'")


class Distiller:
    """Targets and losses of one recipe; ``train_step`` asks it for both."""

    def __init__(self, config: DistillConfig, model: nn.Module,
                 teacher: FrozenTeacher | None = None) -> None:
        self.config = config
        self.module = _submodule(model, config.module)
        self.teacher = teacher
        if config.choice_weights:
            # A narrowed space (e.g. --cfg-options model.backbone.patch_sizes=[8,16]) leaves
            # weights of absent choices behind: harmless, but said, so that a typo shows.
            ids = [choice.id for choice in find_flexible(model).space()]
            absent = sorted(set(config.choice_weights) - set(ids))
            if absent:
                print_log(f"distill.choice_weights: {', '.join(absent)} not in the space "
                          f"({', '.join(ids)}); ignored", logger="current",
                          level=logging.WARNING)

    def external_target(self, data: Mapping) -> Output | None:
        """The frozen teacher's output for this batch, or None (in-place: a choice gives it)."""
        return None if self.teacher is None else self.teacher(data)

    def student_loss(self, task_loss: torch.Tensor, output: Output, target: Output,
                     choice_id: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(total loss, distillation term) of the student ``choice_id``."""
        config = self.config
        term = distillation_distance(output, target, config.distance, config.temperature)
        weight = config.student_weight(choice_id)
        return config.task_weight * task_loss + weight * term, term
