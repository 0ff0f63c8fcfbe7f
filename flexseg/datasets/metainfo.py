"""Class names and palettes of DigitSeg, shared by the generator and the dataset classes.

Label ``k`` in the PNG maps is class ``SEG_CLASSES[k]``: 0 is the background and digit ``d`` is
``d + 1``. COCO category ids use the same numbers, so a category id equals its PNG label.
"""

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
SEG_CLASSES: tuple[str, ...] = ("background", *DIGIT_CLASSES)

DIGIT_PALETTE: list[list[int]] = [
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
]
SEG_PALETTE: list[list[int]] = [[0, 0, 0], *DIGIT_PALETTE]
