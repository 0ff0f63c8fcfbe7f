"""Class names and palettes of DigitSeg, shared by the generator and the dataset classes.

Label ``k`` in the PNG maps is class ``SEG_CLASSES[k]``: 0 is the background and digit ``d`` is
``d + 1``; in a set with letters, letter ``i`` (0 = 'A') is ``11 + i``. COCO category ids use
the same numbers, so a category id equals its PNG label.
"""
import colorsys

from .letter_glyphs import LETTERS

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
SEG_CLASSES: tuple[str, ...] = ("background", *DIGIT_CLASSES)

DIGIT_PALETTE: list[list[int]] = [
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
]
SEG_PALETTE: list[list[int]] = [[0, 0, 0], *DIGIT_PALETTE]


LETTER_SEG_CLASSES: tuple[str, ...] = (*SEG_CLASSES, *LETTERS)
"""Classes of a set with letters (``DigitSegParams.letters``): letter i is label 11 + i."""
LETTER_SEG_PALETTE: list[list[int]] = [
    *SEG_PALETTE, *([round(255 * c) for c in colorsys.hsv_to_rgb(i / len(LETTERS), 0.6, 0.85)]
                    for i in range(len(LETTERS)))]


def seg_classes(letters: bool = False) -> tuple[str, ...]:
    """Class names of a DigitSeg set, background first."""
    return LETTER_SEG_CLASSES if letters else SEG_CLASSES
