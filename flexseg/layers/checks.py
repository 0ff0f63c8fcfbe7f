"""Checks of user-given settings: a wrong value ends in an error naming the key and what it
may be, not in a failure deep inside PyTorch (or, worse, in a silently degenerate model)."""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

from .size import Size2d


def is_int(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _bounds(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    return f" <= {maximum}" if maximum is not None else ""


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an int within ``[minimum, maximum]``."""
    if (not is_int(value) or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise ValueError(f"{name} must be an integer{_bounds(minimum, maximum)}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, minimum: float | None = None,
                 maximum: float | None = None, positive: bool = False) -> float:
    """``value`` as a finite float within ``[minimum, maximum]`` (and > 0 if ``positive``)."""
    if (not is_number(value) or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum) or (positive and value <= 0)):
        kind = "a positive number" if positive else "a number"
        raise ValueError(f"{name} must be {kind}{_bounds(minimum, maximum)}, got {value!r}")
    return float(value)


def check_size(name: str, value: Any) -> Size2d:
    """An integer >= 1 or an (H, W) pair of them, as a pair."""
    pair = (value, value) if is_int(value) else value
    if (isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2
            or not all(is_int(side) and side >= 1 for side in pair)):
        raise ValueError(f"{name} must be an integer >= 1 or an (H, W) pair of them, got "
                         f"{value!r}")
    return (int(pair[0]), int(pair[1]))


def check_list(name: str, value: Any, what: str) -> list:
    """``value`` as a list; strings, numbers and mappings are refused (``what``: its items)."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of {what}, got {value!r}")
    return list(value)

