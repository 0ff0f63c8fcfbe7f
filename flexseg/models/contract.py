"""The contract every flexible backbone follows.

The sampler, the multi-budget evaluation, FLOP counting and export talk only to this contract, so
a new kind of flexibility is one new backbone file.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Hashable, Iterator, Sequence

import torch
import torch.nn as nn


@dataclass(frozen=True)
class Choice(abc.ABC):
    """One sub-network of a flexible backbone: hashable, printable, with a stable string id."""

    @property
    @abc.abstractmethod
    def id(self) -> str:
        """Stable short id such as ``p16``, ``p16-k0.7`` or ``s4-l10``."""

    def __str__(self) -> str:
        return self.id


class FlexibleBackbone(abc.ABC):
    """Mixin for backbones that run at several compute budgets from one set of weights."""

    @abc.abstractmethod
    def space(self) -> list[Choice]:
        """Every choice this backbone supports, in a stable order."""

    @abc.abstractmethod
    def activate(self, choice: Choice | str) -> None:
        """Make ``choice`` (or its id) the one the next forward passes use."""

    @property
    @abc.abstractmethod
    def active_choice(self) -> Choice:
        """The choice forward passes currently use."""

    @abc.abstractmethod
    def flops(self, choice: Choice | str, image_hw: tuple[int, int]) -> int:
        """Analytic backbone multiply-adds (counted once, attention matmuls included)."""

    def params(self, choice: Choice | str) -> int:
        """Backbone parameters ``choice`` uses (default: all of them). Budget tables report it,
        and a choice using fewer than the largest one needs DDP's ``find_unused_parameters``."""
        self.choice(choice)
        return sum(p.numel() for p in self.parameters())

    def unused_parameters(self, choice: Choice | str) -> frozenset[str]:
        """Names of the trainable parameters a forward pass under ``choice`` leaves without a
        gradient (default: none). Where these differ between choices, DDP must look for unused
        parameters every step (``flexseg.budget.ddp``)."""
        self.choice(choice)
        return frozenset()

    def forward_choices(self, x: torch.Tensor, choices: Sequence[Choice | str],
                        stats: object = None) -> Iterator[tuple[Choice, tuple]]:
        """``(choice, forward(x) under it)`` for every choice, in an order of the backbone's
        choosing: backbones whose choices share work (``prefix_tree``) override this to do it
        once. This default runs them one by one; the active choice is restored afterwards."""
        original = self.active_choice
        try:
            for choice in choices:
                self.activate(choice)
                yield self.active_choice, self(x)
        finally:
            self.activate(original)

    def output_signature(self, choice: Choice | str) -> Hashable:
        """Choices with equal signatures hand the neck and heads maps of identical shapes, so
        the rest of the model costs the same and is priced once (default: every choice its
        own). Backbones whose maps have a fixed stride and width share one signature."""
        return self.choice(choice)

    def choice(self, choice: Choice | str) -> Choice:
        """Resolve an id (or a choice) to a member of the space, with a clear error if absent."""
        space = self.space()
        if isinstance(choice, Choice):
            if choice in space:
                return choice
            choice = choice.id
        for candidate in space:
            if candidate.id == choice:
                return candidate
        raise ValueError(f"unknown choice {choice!r}; available: {format_ids(space)}")


def with_keep_rate(base_id: str, keep_rate: float, resolution: float = 1.0) -> str:
    """The id of a choice in a joint space with input resolutions and token keeping: ``p16``
    at resolution and keep rate 1, ``p16-r0.75``, ``p16-k0.7``, ``p16-r0.75-k0.7``."""
    if resolution != 1:
        base_id = f"{base_id}-r{resolution:g}"
    return base_id if keep_rate == 1 else f"{base_id}-k{keep_rate:g}"


def check_resolutions(resolutions: Sequence[float]) -> tuple[float, ...]:
    """Input resolutions of a joint space (fractions of the input size), largest first."""
    given = list(resolutions) if isinstance(resolutions, (list, tuple)) else None
    if not given or not all(isinstance(r, (int, float)) and not isinstance(r, bool)
                            and math.isfinite(r) and 0 < r <= 4 for r in given):
        raise ValueError(f"resolutions must be a non-empty list of input scales in (0, 4] "
                         f"(1 = the image as given), got {resolutions!r}")
    return tuple(sorted({float(r) for r in given}, reverse=True))


def format_ids(choices: Sequence[Choice]) -> str:
    return ", ".join(c.id for c in choices)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP/FSDP-style wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


def find_flexible(model: nn.Module) -> FlexibleBackbone:
    """The flexible backbone of an OpenMMLab model (its ``backbone`` attribute, unwrapped).
    The model's per-choice norms (``ChoiceBN``) are linked to it on the way: every path that
    switches choices asks for the backbone here first."""
    from flexseg.models.choice_norm import link_choice_norms  # OpenMMLab-bound: import late

    model = unwrap(model)
    backbone = getattr(model, "backbone", model)
    if not isinstance(backbone, FlexibleBackbone):
        raise TypeError(
            f"{type(backbone).__name__} is not a flexible backbone; budget sampling and "
            "multi-budget evaluation need a backbone such as FlexiViT")
    link_choice_norms(model, backbone)
    return backbone
