"""A small DigitSeg set (all layouts) generated once per test session."""
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.datasets import load_digits

from flexseg.datasets import DigitSegParams, generate_digitseg

SMALL = DigitSegParams(image_size=(48, 64), digits_per_image=(1, 3), digit_size=(16, 30),
                       num_train=24, num_val=12, seed=3)


@dataclass(frozen=True)
class SmallSet:
    root: Path
    nyu_root: Path
    params: DigitSegParams


@pytest.fixture(scope="session")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> SmallSet:
    base = tmp_path_factory.mktemp("digitseg")
    generate_digitseg(base / "digitseg", SMALL, coco=True, nyu_root=base / "nyu")
    return SmallSet(root=base / "digitseg", nyu_root=base / "nyu", params=SMALL)


def reference_owner_map(digits, shape) -> np.ndarray:
    """Which recorded digit owns each pixel (-1 = none), re-derived from the documented rule
    (bilinear upscale of the 8x8 scikit-learn glyph, threshold 8, later digits on top) without
    using the generator's rendering code."""
    images = load_digits().images.astype(np.float32)
    owner = np.full(shape, -1, np.int64)
    for k, d in enumerate(digits):
        glyph = cv2.resize(images[d.source], (d.size, d.size), interpolation=cv2.INTER_LINEAR)
        owner[d.y:d.y + d.size, d.x:d.x + d.size][glyph > 8.0] = k
    return owner


@pytest.fixture(scope="session")
def owner_map():
    return reference_owner_map
