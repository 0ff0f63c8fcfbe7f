"""Printed capital letters as extra DigitSeg glyph classes, in many styles.

A harder recognition task than ten digits: letters add classes that differ in details (E/F,
O/Q, P/R), and their styles vary: OpenCV's Hershey faces (shipped with OpenCV, nothing
downloaded), upright or italic, with random stroke width, rotation, shear and aspect.
Each variant is a pure function of (letter, variant), like scikit-learn's fixed digit images.
"""
import math
import string

import cv2
import numpy as np

LETTERS: str = string.ascii_uppercase
VARIANTS_PER_LETTER = 64
"""Styles drawn per letter (scikit-learn has about 180 images per digit)."""
SOURCE_SIZE = 16
"""Side of a stored letter image; digits are stored at 8, too coarse for letters' details."""
FACES = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL)
INK = 16.0
"""Peak value of a stroke, the same scale as scikit-learn's digits (0..16)."""
_OVERSAMPLE = 4
_BANK_SEED = 20261206


def render_letter(letter: int, variant: int) -> np.ndarray:
    """Letter ``LETTERS[letter]`` in style ``variant``: float32 SOURCE_SIZE x SOURCE_SIZE, 0..16."""
    rng = np.random.default_rng([_BANK_SEED, letter, variant])
    side = SOURCE_SIZE * _OVERSAMPLE
    face = int(FACES[rng.integers(len(FACES))]) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    thickness = int(rng.integers(2, 9))
    text = LETTERS[letter]
    (width, height), _ = cv2.getTextSize(text, face, 1.0, thickness)
    scale = 0.8 * side / max(width, height)
    (width, height), baseline = cv2.getTextSize(text, face, scale, thickness)
    canvas = np.zeros((side, side), np.uint8)
    origin = ((side - width) // 2, (side + height) // 2)
    cv2.putText(canvas, text, origin, face, scale, 255, thickness, cv2.LINE_AA)
    angle = rng.uniform(-15.0, 15.0)
    shear = rng.uniform(-0.25, 0.25)
    sx, sy = rng.uniform(0.75, 1.05, size=2)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[sx, shear], [0.0, sy]])
    centre = np.array([side / 2, side / 2])
    warp = np.hstack([linear, (centre - linear @ centre)[:, None]])
    canvas = cv2.warpAffine(canvas, warp, (side, side), flags=cv2.INTER_LINEAR)
    small = cv2.resize(canvas, (SOURCE_SIZE, SOURCE_SIZE), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) * (INK / 255.0)


def letter_bank() -> tuple[list[np.ndarray], np.ndarray]:
    """Every letter in every style, letter-major, with its letter index (0 = 'A')."""
    images = [render_letter(k, v) for k in range(len(LETTERS)) for v in range(VARIANTS_PER_LETTER)]
    return images, np.repeat(np.arange(len(LETTERS)), VARIANTS_PER_LETTER)
