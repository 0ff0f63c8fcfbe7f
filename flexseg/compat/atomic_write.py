"""Files that are either whole or absent: written beside the target, then renamed onto it.

mmengine writes checkpoints and ``last_checkpoint`` with a plain ``open(path, 'wb')``, so a run
killed while saving leaves a truncated checkpoint under its final name. With
``make_local_writes_atomic`` its local file backend writes ``.<name>.partial`` in the same
directory and renames it onto the target (``os.replace``, atomic on POSIX): a kill leaves the
previous file, or none, plus a stray partial file that the next save of that name replaces.
Protects against killed processes; surviving a power cut would also need an fsync per write.
"""
from __future__ import annotations

import os
from pathlib import Path

from mmengine.fileio.backends import LocalBackend

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    with open(partial, "wb") as handle:
        handle.write(data)
    os.replace(partial, path)


def write_text_atomically(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes_atomically(path, text.encode(encoding))


def _put(self: LocalBackend, obj: bytes, filepath: str | Path) -> None:
    write_bytes_atomically(filepath, obj)


def _put_text(self: LocalBackend, obj: str, filepath: str | Path,
              encoding: str = "utf-8") -> None:
    write_text_atomically(filepath, obj, encoding)


def make_local_writes_atomic() -> None:
    """Route mmengine's local ``put``/``put_text`` (checkpoints, ``last_checkpoint``)
    through the atomic writers."""
    LocalBackend.put = _put
    LocalBackend.put_text = _put_text
