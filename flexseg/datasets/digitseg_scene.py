"""Render one DigitSeg scene: handwritten digits pasted on a cluttered background.

The glyphs are scikit-learn's 8x8 handwritten digits (shipped with the package, so nothing is
downloaded), optionally followed by printed letters (``letter_glyphs``) as further classes.
Every scene is a pure function of (seed, split, index), so any image can be re-rendered alone
and a whole set is reproducible byte for byte.
"""
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .digitseg_params import DigitSegParams
from .letter_glyphs import letter_bank

SPLITS: tuple[str, ...] = ("training", "validation")

GLYPH_THRESHOLD = 8.0
"""A pixel belongs to a digit where its upscaled glyph (bilinear, cv2.INTER_LINEAR) exceeds this."""
DEPTH_SIZE_PRODUCT_MM = 40_000
"""Pinhole model with a fixed physical digit height: a digit of s pixels stands at this / s mm."""

PAPER_LEVELS = (128, 256)
"""Half-open range of every channel of the background's gradient and clutter colours (light)."""
INK_LEVELS = (0, 100)
"""Half-open range of every channel of a digit's colour (dark). Dark ink on light paper, in any
hue: a fixed polarity lets a ViT's linear patch embedding learn stroke detectors, where random
polarity kept a small ViT trained from scratch from telling digits apart within the CPU demo."""

_PLACEMENT_TRIES = 10
_COLOUR_CANDIDATES = 8


@dataclass(frozen=True)
class Digit:
    """One pasted digit: where it came from and where it went (x, y = top-left of its box)."""

    source: int
    label: int
    x: int
    y: int
    size: int
    color: tuple[int, int, int]
    depth_mm: int


@dataclass
class Scene:
    """A rendered image with its per-pixel ground truth.

    ``instances`` holds, per pixel, the index in ``digits`` of the digit visible there (-1 for
    background); the label and depth maps are derived from it.
    """

    image: np.ndarray
    label: np.ndarray
    instances: np.ndarray
    digits: list[Digit]
    background_depth_mm: np.ndarray

    def depth_mm(self) -> np.ndarray:
        """uint16 depth in millimetres: each digit at its own depth, else the background plane."""
        digit_depths = np.array([d.depth_mm for d in self.digits], dtype=np.float32)
        depth = np.where(self.instances >= 0, digit_depths[self.instances.clip(0)],
                         self.background_depth_mm)
        return np.rint(depth).astype(np.uint16)


@lru_cache(maxsize=1)
def _digit_bank() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (float32 images N x 8 x 8 in 0..16, int64 targets N)."""
    from sklearn.datasets import load_digits  # slow import, only needed when generating

    digits = load_digits()
    return digits.images.astype(np.float32), digits.target.astype(np.int64)


@lru_cache(maxsize=2)
def load_glyphs(letters: bool = False) -> tuple[list[np.ndarray], np.ndarray]:
    """The glyph sources (images in 0..16) and their classes: scikit-learn's digits (class d),
    then, with ``letters``, every style of every letter (class 10 + letter). Digits come
    first, so a digit's source index is the same in both banks."""
    images, targets = _digit_bank()
    if not letters:
        return list(images), targets
    letter_images, letter_index = letter_bank()
    return [*images, *letter_images], np.concatenate([targets, 10 + letter_index])


def upscale_glyph(source: int, size: int, letters: bool = False) -> np.ndarray:
    """The glyph of source ``source`` (see ``load_glyphs``) resized to size x size (0..16)."""
    return cv2.resize(load_glyphs(letters)[0][source], (size, size),
                      interpolation=cv2.INTER_LINEAR)


def split_sources(seed: int, val_fraction: float, letters: bool = False
                  ) -> dict[str, np.ndarray]:
    """Partition the glyph sources into disjoint training/validation pools.

    The split is taken per class so both pools hold every class; the validation pool gets
    ``ceil(val_fraction * n_class)`` sources of each class. Classes are split in order from
    one random stream, so adding letters leaves the digits' split unchanged.
    """
    targets = load_glyphs(letters)[1]
    rng = np.random.default_rng([seed, len(SPLITS)])
    train, val = [], []
    for cls in range(int(targets.max()) + 1):
        members = rng.permutation(np.flatnonzero(targets == cls))
        n_val = math.ceil(val_fraction * len(members))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return {"training": np.sort(np.concatenate(train)), "validation": np.sort(np.concatenate(val))}


def digit_depth_mm(size: int) -> int:
    """Depth of a digit of ``size`` pixels: larger digits are nearer."""
    return round(DEPTH_SIZE_PRODUCT_MM / size)


@lru_cache(maxsize=4)
def _grid(height: int, width: int) -> np.ndarray:
    """Pixel coordinates (2 x H x W, float32), shared by every scene of one size."""
    grid = np.mgrid[0:height, 0:width].astype(np.float32)
    grid.flags.writeable = False
    return grid


def _ramp(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A 0..1 linear ramp over the image along a random direction."""
    theta = rng.uniform(0.0, 2.0 * math.pi)
    yy, xx = _grid(height, width)
    t = xx * math.cos(theta) + yy * math.sin(theta)
    t -= t.min()
    return t / max(float(t.max()), 1e-6)


def _background(rng: np.random.Generator, height: int, width: int,
                opacity: float) -> np.ndarray:
    """A colour gradient with a few random circles, rectangles and lines blended on it."""
    c0, c1 = rng.integers(*PAPER_LEVELS, size=(2, 3)).astype(np.float32)
    t = _ramp(rng, height, width)[..., None]
    gradient = np.ascontiguousarray((c0 * (1.0 - t) + c1 * t).astype(np.uint8))
    image = gradient.copy()
    extent = max(height, width)
    for u in rng.random((int(rng.integers(2, 7)), 9)):  # one row of uniforms per shape
        kind = int(u[0] * 3)
        colour = tuple(int(PAPER_LEVELS[0] + c * (PAPER_LEVELS[1] - PAPER_LEVELS[0]))
                       for c in u[1:4])
        p0 = (int(u[4] * width), int(u[5] * height))
        p1 = (int(u[6] * width), int(u[7] * height))
        if kind == 0:
            radius = 2 + int(u[8] * max(1, extent // 4 - 2))
            cv2.circle(image, p0, radius, colour, int(u[6] * 4) or -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(image, p0, p1, colour, int(u[8] * 4) or -1, cv2.LINE_AA)
        else:
            cv2.line(image, p0, p1, colour, 1 + int(u[8] * 3), cv2.LINE_AA)
    return cv2.addWeighted(image, opacity, gradient, 1.0 - opacity, 0.0)


def _background_depth(rng: np.random.Generator, params: DigitSegParams) -> np.ndarray:
    """A tilted plane behind every digit (inverse depth is affine in image coordinates)."""
    near = 1.25 * digit_depth_mm(params.digit_size[0]) + rng.uniform(0.0, 1000.0)
    far = near + rng.uniform(500.0, 2000.0)
    t = _ramp(rng, *params.image_size)
    return 1.0 / (1.0 / near + (1.0 / far - 1.0 / near) * t)


def _place(rng: np.random.Generator, mask: np.ndarray, instances: np.ndarray,
           full_areas: list[int], max_occlusion: float) -> tuple[int, int]:
    """Top-left corner for a digit mask that hides at most ``max_occlusion`` of earlier digits.

    Takes the first of a few random candidates that satisfies the bound, else the candidate
    whose most-hidden earlier digit keeps the most of itself.
    """
    height, width = instances.shape
    size = mask.shape[0]
    xs = rng.integers(0, width - size + 1, size=_PLACEMENT_TRIES)
    ys = rng.integers(0, height - size + 1, size=_PLACEMENT_TRIES)
    if not full_areas:
        return int(xs[0]), int(ys[0])
    visible = np.bincount(instances[instances >= 0], minlength=len(full_areas))
    full = np.maximum(np.asarray(full_areas, dtype=np.float64), 1.0)
    best, best_kept = (int(xs[0]), int(ys[0])), -1.0
    for x, y in zip(xs.tolist(), ys.tolist()):
        under = instances[y:y + size, x:x + size][mask]
        hidden = np.bincount(under[under >= 0], minlength=len(full_areas))
        kept = float(((visible - hidden) / full).min())
        if kept >= 1.0 - max_occlusion:
            return x, y
        if kept > best_kept:
            best, best_kept = (x, y), kept
    return best


def _contrasting_colour(rng: np.random.Generator, behind: np.ndarray) -> tuple[int, int, int]:
    """The random ink colour farthest from the mean colour of the box it is painted in."""
    candidates = rng.integers(*INK_LEVELS, size=(_COLOUR_CANDIDATES, 3))
    distance = np.linalg.norm(candidates - behind.reshape(-1, 3).mean(axis=0), axis=1)
    return tuple(int(c) for c in candidates[int(distance.argmax())])


def render_scene(params: DigitSegParams, split: str, index: int, pool: np.ndarray) -> Scene:
    """Render image ``index`` of ``split``, drawing its digits from the source indices ``pool``.

    Digits are painted smallest first, so nearer (larger) digits cover farther ones and a later
    digit overwrites earlier ones in the image, the labels and the depth alike. A digit's alpha
    ramps linearly across the threshold, so its mask is exactly where it is more than half opaque.
    """
    rng = np.random.default_rng([params.seed, SPLITS.index(split), index])
    height, width = params.image_size
    canvas = _background(rng, height, width, params.clutter_opacity).astype(np.float32)
    label = np.zeros((height, width), np.uint8)
    instances = np.full((height, width), -1, np.int16)

    count = int(rng.integers(params.digits_per_image[0], params.digits_per_image[1] + 1))
    sizes = np.sort(rng.integers(params.digit_size[0], params.digit_size[1] + 1, size=count))
    sources = rng.choice(pool, size=count, replace=count > len(pool))
    targets = load_glyphs(params.letters)[1]
    digits: list[Digit] = []
    full_areas: list[int] = []
    for k, (size, source) in enumerate(zip(sizes.tolist(), sources.tolist())):
        glyph = upscale_glyph(source, size, params.letters)
        mask = glyph > GLYPH_THRESHOLD
        x, y = _place(rng, mask, instances, full_areas, params.max_occlusion)
        box = (slice(y, y + size), slice(x, x + size))
        colour = _contrasting_colour(rng, canvas[box])
        alpha = np.clip((glyph - GLYPH_THRESHOLD) / GLYPH_THRESHOLD + 0.5, 0.0, 1.0)[..., None]
        canvas[box] = canvas[box] * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha
        label[box][mask] = targets[source] + 1
        instances[box][mask] = k
        full_areas.append(int(mask.sum()))
        digits.append(Digit(source=source, label=int(targets[source]), x=x, y=y, size=size,
                            color=colour, depth_mm=digit_depth_mm(size)))

    noise_sigma = rng.uniform(0.0, 10.0)
    canvas += noise_sigma * rng.standard_normal(size=canvas.shape, dtype=np.float32)
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return Scene(image=image, label=label, instances=instances, digits=digits,
                 background_depth_mm=_background_depth(rng, params))
