"""DigitTags: which digits does a DigitSeg-like scene show? The pretraining task.

Scenes come from DigitSeg's renderer with the pretraining seed, and their handwriting only from
the dense benchmark's TRAINING pool (``split_sources`` with the benchmark's seed), so a
pretrained backbone never saw a glyph the dense validation set shows. Labels are multi-hot over
the glyph classes (the ten digits, and the letters if the scenes have them), taken from the
visible label map (a glyph hidden by another does not count).
Batches are rendered on the fly as a pure function of (seed, split, index): every step sees new
scenes, and a resumed run sees exactly the scenes it would have seen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from flexseg.datasets.digitseg_params import DigitSegParams
from flexseg.datasets.digitseg_scene import render_scene, split_sources

# Normalisation of the dense configs' data preprocessor (RGB order), so features transfer.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class DigitTagParams:
    """How pretraining scenes are made.

    Args:
        scene: renderer parameters (image size, digits per image, digit sizes, clutter); its
            ``seed`` must differ from the dense benchmark's so the scenes differ.
        dense_seed, dense_val_fraction: the dense benchmark's source split, whose validation
            handwriting is withheld here.
        num_val: images of the fixed validation set (rendered from the 'validation' stream).
    """

    scene: DigitSegParams = field(default_factory=lambda: DigitSegParams(seed=1))
    dense_seed: int = 0
    dense_val_fraction: float = 0.2
    num_val: int = 512

    def __post_init__(self) -> None:
        if isinstance(self.scene, dict):
            object.__setattr__(self, "scene", DigitSegParams(**self.scene))
        if self.scene.seed == self.dense_seed:
            raise ValueError(f"the pretraining scene seed ({self.scene.seed}) must differ from "
                             f"the dense benchmark's ({self.dense_seed})")


def pretraining_pool(dense_seed: int, dense_val_fraction: float, letters: bool = False
                     ) -> np.ndarray:
    """Source glyph indices pretraining may use: the dense benchmark's training pool."""
    return split_sources(dense_seed, dense_val_fraction, letters)["training"]


class DigitTags:
    """Rendered batches of the pretraining task."""

    def __init__(self, params: DigitTagParams) -> None:
        self.params = params
        self.pool = pretraining_pool(params.dense_seed, params.dense_val_fraction,
                                     params.scene.letters)
        self.num_classes = params.scene.num_glyph_classes

    def render(self, split: str, indices: range | list[int]
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised images (B, 3, H, W) float32, multi-hot targets (B, classes) float32
        and the label maps (B, H, W) int64 (0 background, c + 1 glyph class c)."""
        images, targets, labels = [], [], []
        for index in indices:
            scene = render_scene(self.params.scene, split, index, self.pool)
            images.append(scene.image)
            labels.append(scene.label)
            present = np.unique(scene.label)
            target = np.zeros(self.num_classes, np.float32)
            target[present[present > 0] - 1] = 1.0
            targets.append(target)
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        return ((batch - mean) / std, torch.from_numpy(np.stack(targets)),
                torch.from_numpy(np.stack(labels)).long())

    def train_batch(self, step: int, batch_size: int
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Batch ``step`` of the endless training stream."""
        return self.render("training", range(step * batch_size, (step + 1) * batch_size))

    def validation(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.render("validation", range(self.params.num_val))

