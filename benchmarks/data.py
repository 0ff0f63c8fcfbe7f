"""The DigitSeg copy the data-reading figures use."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

from flexseg.datasets import ensure_digitseg, read_meta

# A quick run's own tiny copy, when it is given none.
QUICK_SIZES = dict(num_train=8, num_val=4)


@contextlib.contextmanager
def digitseg_root(root: Path | None, default: Path, quick: bool,
                  needed: bool) -> Iterator[Path]:
    """``root`` (else ``default``), checked to hold DigitSeg if ``needed``; a quick run
    without ``root`` gets a tiny copy generated for the run (removed afterwards)."""
    if quick and root is None and needed:
        with tempfile.TemporaryDirectory(prefix="digitseg-") as tiny:
            ensure_digitseg(tiny, coco=False, **QUICK_SIZES)
            yield Path(tiny)
        return
    root = root or default
    if needed and read_meta(root) is None:
        raise FileNotFoundError(f"no DigitSeg in {root}; generate it with "
                                f"python tools/generate_digitseg.py --root {root}")
    yield root
