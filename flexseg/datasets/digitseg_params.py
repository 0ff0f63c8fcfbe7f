"""Parameters of a DigitSeg set: one frozen value that is hashed into, and compared against, the
metadata on disk so that an existing set is reused only when it was made the same way."""
from dataclasses import asdict, dataclass
from typing import Any

from .letter_glyphs import LETTERS


def _pair(value: Any, name: str) -> tuple[int, int]:
    """Normalise an int or a 2-sequence of ints (JSON gives lists) to a tuple."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


@dataclass(frozen=True)
class DigitSegParams:
    """How a DigitSeg set is generated.

    Args:
        image_size: (height, width) in pixels, or one int for a square image.
        digits_per_image: inclusive (min, max) number of digits pasted on an image.
        digit_size: inclusive (min, max) side in pixels of a digit's square glyph box.
        num_train: number of training images.
        num_val: number of validation images.
        seed: everything (source split, scenes) is a deterministic function of it.
        val_source_fraction: share of scikit-learn's digit images reserved for validation,
            taken per class, so validation shows handwriting never seen in training.
        max_occlusion: a new digit is re-placed (a few tries) if it would hide more than this
            share of an earlier digit; the default 0 keeps the least-hiding of the tries, so
            digits overlap only when the image is crowded (fragments of hidden digits are
            unreadable and slowed learning in the CPU demo).
        clutter_opacity: opacity of the background's shapes and lines; below 1 they are
            fainter than the digits, so a small model can learn what a digit is in minutes.
        letters: the 26 printed capital letters join the ten digits as glyph classes
            (``letter_glyphs``), so that recognition, not only stroke edges, limits the score.
    """

    image_size: tuple[int, int] = (64, 64)
    digits_per_image: tuple[int, int] = (2, 4)
    digit_size: tuple[int, int] = (14, 30)
    num_train: int = 2000
    num_val: int = 500
    seed: int = 0
    val_source_fraction: float = 0.2
    max_occlusion: float = 0.0
    clutter_opacity: float = 0.4
    letters: bool = False

    def __post_init__(self) -> None:
        for name in ("image_size", "digits_per_image", "digit_size"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        height, width = self.image_size
        lo_n, hi_n = self.digits_per_image
        lo_s, hi_s = self.digit_size
        checks = [
            (height > 0 and width > 0, f"image_size must be positive, got {self.image_size}"),
            (1 <= lo_n <= hi_n, f"digits_per_image must satisfy 1 <= min <= max, "
                                f"got {self.digits_per_image}"),
            (1 <= lo_s <= hi_s <= min(height, width),
             f"digit_size must satisfy 1 <= min <= max <= min(image_size), "
             f"got {self.digit_size} for image_size {self.image_size}"),
            (self.num_train >= 0 and self.num_val >= 0,
             f"num_train and num_val must be >= 0, got {self.num_train}, {self.num_val}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (0.0 < self.val_source_fraction < 1.0,
             f"val_source_fraction must be in (0, 1), got {self.val_source_fraction}"),
            (0.0 <= self.max_occlusion <= 1.0,
             f"max_occlusion must be in [0, 1], got {self.max_occlusion}"),
            (0.0 <= self.clutter_opacity <= 1.0,
             f"clutter_opacity must be in [0, 1], got {self.clutter_opacity}"),
            (isinstance(self.letters, bool),
             f"letters must be True or False, got {self.letters!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def num_glyph_classes(self) -> int:
        """Foreground classes: the ten digits and the letters."""
        return 10 + len(LETTERS) * self.letters

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
