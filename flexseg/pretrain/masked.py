"""Masked-patch pretraining (SimMIM-like), the BERT-like objective the hMLP stem is made for.

A share ``mask_ratio`` of the patch tokens of every image is replaced, right after the stem,
by one learned mask token (plus the token's position embedding); the encoder runs on all
tokens and a linear decoder predicts the pixels of every masked patch; the loss is the L1 error
on the masked patches only. Because the hMLP stem (like the linear one) embeds each patch on
its own (``layers.hmlp``), replacing a token after the stem hides its whole patch: nothing of a
masked patch leaks into the tokens around it, as it would through a convolutional stem.

Flexible patch sizes: the target of a p x p patch is the patch resized (bilinear, antialiased)
to ``target_size`` x ``target_size``, so one decoder and one loss scale serve every patch size
a step draws.

``MaskedPretrainer`` is ``trainer.Pretrainer`` with this objective (its steps, checkpoints,
resumption and weight files unchanged); a pretraining config selects it with
``objective='masked'`` and tunes it with ``masked=dict(mask_ratio=..., target_size=...)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from flexseg.layers import fit_to_patch_grid
from flexseg.layers.size import Size2d
from flexseg.pretrain.schedule import draw_choice
from flexseg.pretrain.trainer import Pretrainer, _param_groups

OBJECTIVES = ("tags", "masked")
EVAL_SEED = 12345  # the validation masks: one fixed draw, the same for every checkpoint


class MaskedPatchModel(nn.Module):
    """A backbone (FlexiViT's ``embed``, ``blocks``, ``norm``) with a mask token and a linear
    pixel decoder named ``head`` (backbone loaders discard ``head.*``)."""

    def __init__(self, backbone: nn.Module, mask_ratio: float = 0.6,
                 target_size: int = 8) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"masked.mask_ratio must be in (0, 1), got {mask_ratio}")
        if target_size < 1:
            raise ValueError(f"masked.target_size must be >= 1, got {target_size}")
        self.backbone = backbone
        self.mask_ratio = mask_ratio
        self.target_size = target_size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, backbone.embed_dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.head = nn.Linear(backbone.embed_dim, backbone.in_chans * target_size ** 2)

    def draw_masks(self, batch: int, tokens: int, generator: torch.Generator) -> torch.Tensor:
        """(B, N) bool, exactly ``round(mask_ratio * N)`` (at least 1) masked per image."""
        count = max(1, round(self.mask_ratio * tokens))
        order = torch.rand(batch, tokens, generator=generator).argsort(dim=1)
        return order < count

    def forward(self, images: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, Size2d]:
        """Pixel predictions (B, N, C t t) for every patch, the mask (B, N) and the grid."""
        backbone = self.backbone
        tokens, grid_hw = backbone.embed(images)
        prefix = backbone.num_prefix_tokens
        mask = self.draw_masks(images.shape[0], grid_hw[0] * grid_hw[1], generator)
        masked = self.mask_token + backbone.pos_embed_for(grid_hw)
        patches = torch.where(mask[..., None].to(tokens.device), masked, tokens[:, prefix:])
        tokens = torch.cat([tokens[:, :prefix], patches], dim=1)
        for block in backbone.blocks:
            tokens = block(tokens, None, grid_hw)
        return self.head(backbone.norm(tokens)[:, prefix:]), mask, grid_hw

    def targets(self, images: torch.Tensor) -> torch.Tensor:
        """Every patch of the (fitted) image resized to the target size: (B, N, C t t)."""
        patch_hw = self.backbone.active_choice.patch_hw
        fitted = fit_to_patch_grid(images, patch_hw, self.backbone.fit)
        batch, channels, height, width = fitted.shape
        rows, cols = height // patch_hw[0], width // patch_hw[1]
        patches = (fitted.reshape(batch, channels, rows, patch_hw[0], cols, patch_hw[1])
                   .permute(0, 2, 4, 1, 3, 5).reshape(-1, channels, *patch_hw))
        size = (self.target_size, self.target_size)
        if tuple(patch_hw) != size:
            patches = F.interpolate(patches, size=size, mode="bilinear", align_corners=False,
                                    antialias=True)
        return patches.reshape(batch, rows * cols, -1)

    def loss(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean absolute error over the masked patches' target pixels."""
        predictions, mask, _ = self(images, generator)
        errors = (predictions - self.targets(images)).abs().mean(dim=-1)
        return errors[mask.to(errors.device)].mean()

    def timm_state_dict(self) -> dict[str, torch.Tensor]:
        """Backbone tensors under timm's names and the decoder as ``head.*``; the mask token is
        pretraining-only and not exported."""
        state = {name: value.detach().contiguous()
                 for name, value in self.backbone.state_dict().items()}
        state.update({f"head.{name}": value.detach().contiguous()
                      for name, value in self.head.state_dict().items()})
        return state


def step_generator(seed: int, step: int) -> torch.Generator:
    """The masks of ``step``: a pure function of (seed, step), so a resumed run draws the
    masks the uninterrupted run drew."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class MaskedPretrainer(Pretrainer):
    """``Pretrainer`` with the masked-patch objective: same schedule, data stream (images
    only), choice sampler, checkpoints and weight files; ``evaluate`` reports the masked L1
    error (lower is better) on the validation images at every choice."""

    OBJECTIVE = "masked"
    SCORE = "masked-patch L1 error"

    def __init__(self, cfg: Config, work_dir: Path, out_dir: Path,
                 say: Callable[[str], None] = print) -> None:
        if cfg.get("distill"):
            raise ValueError("objective='masked' trains without a teacher: set distill=None")
        super().__init__(cfg, work_dir, out_dir, say)
        self.model = MaskedPatchModel(self.model.backbone, **dict(cfg.get("masked") or {}))
        self.optimizer = torch.optim.AdamW(
            _param_groups(self.model, self.schedule.weight_decay), lr=self.schedule.lr)

    def loss(self, step: int) -> tuple[torch.Tensor, str]:
        choice = draw_choice(self.ids, step, self.schedule.seed, self.weights)
        images, _, _ = self.data.train_batch(step, self.schedule.batch_size)
        self.model.backbone.activate(choice)
        return self.model.loss(images, step_generator(self.schedule.seed, step)), choice

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        images, _, _ = self.data.validation()
        errors = {}
        for choice in self.ids:
            self.model.backbone.activate(choice)
            generator = torch.Generator().manual_seed(EVAL_SEED)
            losses = [self.model.loss(chunk, generator) for chunk in images.split(64)]
            errors[choice] = round(float(torch.stack(losses).mean()), 4)
        return errors


def pretrainer_class(cfg: Config) -> type[Pretrainer]:
    """The trainer of a pretraining config's ``objective`` ('tags', the default, or
    'masked')."""
    objective = cfg.get("objective", "tags")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return MaskedPretrainer if objective == "masked" else Pretrainer
