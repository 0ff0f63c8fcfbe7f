"""Resume from the newest checkpoint that is whole.

A job killed while mmengine writes a checkpoint leaves a truncated file, and a job killed while
it writes ``last_checkpoint`` leaves a pointer to nothing. torch writes checkpoints as zip
archives whose directory comes last, so a truncated file is recognised without loading it:
``--resume`` then falls back to the newest whole checkpoint in the work dir, with a warning.
"""
from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

POINTER = "last_checkpoint"


def is_whole_checkpoint(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def _iteration(path: Path) -> int:
    found = re.search(r"(\d+)", path.stem)
    return int(found.group(1)) if found else -1


def resume_checkpoint(work_dir: str | Path) -> str | None:
    """The checkpoint ``last_checkpoint`` names if it is whole, else the newest whole
    ``*.pth`` in ``work_dir`` (warning which and why); None when there is none."""
    work_dir = Path(work_dir)
    pointer = work_dir / POINTER
    named = Path(pointer.read_text().strip()) if pointer.is_file() else None
    if named is not None and is_whole_checkpoint(named):
        return str(named)
    candidates = sorted((p for p in work_dir.glob("*.pth") if is_whole_checkpoint(p)),
                        key=_iteration, reverse=True)
    if named is None and not candidates:
        return None
    fallback = str(candidates[0]) if candidates else None
    problem = (f"{POINTER} names {named}, which is missing or truncated" if named is not None
               else f"no {POINTER} in {work_dir}")
    warnings.warn(f"{problem}; resuming from {fallback or 'scratch (no whole checkpoint)'}",
                  stacklevel=2)
    return fallback
