"""DigitSeg rewards compute: the best label map a coarser patch grid can express is worse.

The "oracle" of a patch size gives every patch the majority label of its pixels: what a model
whose predictions are constant per token could at best reach. The default DigitSeg makes that
bound fall steeply at every step of the main job's patch sizes (4 -> 16), so finer grids have
something to gain; a set of large, sparse digits would not.
"""
import numpy as np

from flexseg.datasets.digitseg_params import DigitSegParams
from flexseg.datasets.digitseg_scene import render_scene, split_sources

PATCH_SIZES = (4, 6, 8, 12, 16)


def patch_majority(label: np.ndarray, size: int) -> np.ndarray:
    """Each size x size patch (padded at the bottom/right) filled with its majority label."""
    height, width = label.shape
    rows, cols = -(-height // size), -(-width // size)
    padded = np.zeros((rows * size, cols * size), label.dtype)
    padded[:height, :width] = label
    patches = padded.reshape(rows, size, cols, size).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    majority = np.apply_along_axis(lambda p: np.bincount(p, minlength=11).argmax(), 2, patches)
    return np.repeat(np.repeat(majority, size, 0), size, 1)[:height, :width]


def mean_iou(predictions: list[np.ndarray], labels: list[np.ndarray], classes: int = 11) -> float:
    inter, union = np.zeros(classes), np.zeros(classes)
    for pred, label in zip(predictions, labels):
        for c in range(classes):
            inter[c] += np.sum((pred == c) & (label == c))
            union[c] += np.sum((pred == c) | (label == c))
    return 100 * float(np.mean(inter[union > 0] / union[union > 0]))


def test_the_patch_oracle_falls_at_every_step_of_the_patch_sizes():
    params = DigitSegParams()
    pool = split_sources(params.seed, params.val_source_fraction)["validation"]
    labels = [render_scene(params, "validation", i, pool).label for i in range(60)]
    oracle = [mean_iou([patch_majority(l, s) for l in labels], labels) for s in PATCH_SIZES]
    steps = np.diff(oracle)  # p4 -> p6 -> ... -> p16
    assert (steps < -5).all(), dict(zip(PATCH_SIZES, np.round(oracle, 1)))
    assert oracle[0] > 55 and oracle[-1] < 25, dict(zip(PATCH_SIZES, np.round(oracle, 1)))
