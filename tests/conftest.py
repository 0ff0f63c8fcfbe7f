"""Shared fixtures: the repository root and a small DigitSeg set generated once per session."""
import contextlib
import io
import logging
import runpy
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.logging import MMLogger

from flexseg.compat.mmengine_private import forget_logger
from flexseg.datasets import ensure_digitseg

REPO = Path(__file__).resolve().parents[1]
BASELINE_CONFIG = REPO / "configs/baseline/vit-t8_upernet_1k_digitseg-64x64.py"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped (and counted as skipped) without CUDA."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def one_thread():
    """Test models are tiny: one intra-op thread is faster and leaves the other core free."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _logs_to_a_deleted_folder(logger: MMLogger) -> bool:
    return any(isinstance(handler, logging.FileHandler)
               and not Path(handler.baseFilename).parent.exists() for handler in logger.handlers)


@pytest.fixture(autouse=True)
def own_loggers():
    """Forget the loggers a test's runners made: mmengine keeps one per config name and second,
    so a runner starting within the same second as the last test's would log to that test's
    closed output capture. Loggers of shared fixtures whose log folder is gone go too: mmengine
    logs through the newest logger, which would fail to reopen its file."""
    before = set(MMLogger._instance_dict)
    yield
    for name, logger in list(MMLogger._instance_dict.items()):
        if name not in before or _logs_to_a_deleted_folder(logger):
            forget_logger(logger)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def small_digitseg(tmp_path_factory) -> Path:
    """24 training and 8 validation 64x64 images, shared by the end-to-end tests."""
    root = tmp_path_factory.mktemp("digitseg")
    ensure_digitseg(root, coco=False, num_train=24, num_val=8, seed=3)
    return root


@pytest.fixture
def digitseg_copy(tmp_path, small_digitseg) -> Path:
    """A copy of the small DigitSeg set that a test may damage."""
    copy = tmp_path / "data"
    shutil.copytree(small_digitseg, copy)
    return copy


def break_file(path: Path, how: str) -> None:
    """Make a file unreadable: 'truncated' (first half), 'empty' or 'not an image'."""
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"",
                      "not an image": b"label map"}[how])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quick_run_options(data_root: Path, max_iters: int = 4, batch_size: int = 2) -> list[str]:
    """--cfg-options that shrink a DigitSeg config to a few CPU iterations on ``data_root``."""
    return [
        f"train_dataloader.dataset.data_root={data_root}",
        f"val_dataloader.dataset.data_root={data_root}",
        f"test_dataloader.dataset.data_root={data_root}",
        f"train_dataloader.batch_size={batch_size}",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False",
        "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
        f"train_cfg.max_iters={max_iters}", f"train_cfg.val_interval={max_iters}",
        "default_hooks.checkpoint.interval=2", "default_hooks.logger.interval=1",
        "default_hooks.checkpoint.max_keep_ckpts=-1",
    ]


PYTHON = sys.executable


def run_tool_here(script: str, *args: str) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` in this process (as ``__main__``, from the repository): its exit
    status and what it printed, without a new interpreter's imports (seconds per tool). Not for
    what only a fresh process shows: loggers made earlier keep writing where they did, and
    pytest records warnings instead of printing them."""
    out, err, code = io.StringIO(), io.StringIO(), 0
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        patch.setattr(sys, "argv", [script, *args])
        patch.chdir(REPO)
        try:
            runpy.run_path(str(REPO / script), run_name="__main__")
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


def load_run_checkpoint(path: Path) -> dict:
    """Load a checkpoint written by a run of the tools (mmengine types allowed, nothing else)."""
    import torch

    from flexseg.compat import allow_mmengine_checkpoints

    allow_mmengine_checkpoints()
    return torch.load(path, map_location="cpu")
