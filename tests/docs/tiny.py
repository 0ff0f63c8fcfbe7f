"""The tiny setting documented commands run at: every config shrunk as it is loaded (two
iterations or pretraining steps, batches of at most two, data loaded in the main process),
DigitSeg generated with a handful of images. Installed in this process (``install``) or, for
shell scripts, in every Python process they start (``hooks/sitecustomize.py``)."""
from __future__ import annotations

import re
import sys

from mmengine.config import Config

TINY_ITERS = 2
TINY_DIGITSEG = ["--num-train", "24", "--num-val", "4"]
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
# A full run's checkpoint named in a config (a frozen teacher's): the tiny run's instead.
FULL_RUN_CHECKPOINT = re.compile(r"^(work_dirs/.+/iter_)\d+(\.pth)$")


def shrink(cfg: Config) -> Config:
    """``cfg`` at the tiny setting, in place (batch sizes are never raised: a validation batch
    of one image may be there because images differ in size)."""
    for key in LOADERS:
        loader = cfg.get(key)
        if loader:
            loader["batch_size"] = min(loader.get("batch_size", 1), 2)
            loader["num_workers"] = 0
            loader["persistent_workers"] = False
    loop = cfg.get("train_cfg") or {}
    if "max_iters" in loop:
        loop["max_iters"] = TINY_ITERS
        loop["val_interval"] = TINY_ITERS
    if "max_epochs" in loop:
        loop["max_epochs"] = 1
        loop["val_interval"] = 1
    hooks = cfg.get("default_hooks") or {}
    if hooks.get("checkpoint"):
        hooks["checkpoint"]["interval"] = TINY_ITERS if "max_iters" in loop else 1
    if hooks.get("logger"):
        hooks["logger"]["interval"] = 1
    schedule = cfg.get("schedule") or {}  # tools/pretrain.py's configs
    if "steps" in schedule:
        schedule.update(steps=TINY_ITERS, batch_size=min(schedule.get("batch_size", 2), 2),
                        warmup_steps=min(schedule.get("warmup_steps", 0), 1), log_interval=1)
        data = cfg.get("data") or {}
        if "num_val" in data:
            data["num_val"] = min(data["num_val"], 8)
    for hook in cfg.get("custom_hooks") or []:
        if hook.get("type") == "StitchInitHook":
            hook["num_batches"] = 1
    for key in list(cfg.keys()):
        cfg[key] = _tiny_checkpoint_names(cfg[key])
    return cfg


def _tiny_checkpoint_names(value):
    """``value`` with full-run checkpoint names (at any depth) replaced in place."""
    if isinstance(value, str) and FULL_RUN_CHECKPOINT.match(value):
        return FULL_RUN_CHECKPOINT.sub(rf"\g<1>{TINY_ITERS}\g<2>", value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _tiny_checkpoint_names(value[key])
    elif isinstance(value, list):
        value[:] = [_tiny_checkpoint_names(item) for item in value]
    return value


def tiny_argv(argv: list[str]) -> list[str]:
    """A tool's arguments at the tiny setting: DigitSeg with a handful of images."""
    if argv and argv[0].endswith("generate_digitseg.py") and "--help" not in argv \
            and "--num-train" not in argv:
        return [*argv, *TINY_DIGITSEG]
    return argv


def tiny_fromfile(original):
    def fromfile(*args, **kwargs) -> Config:
        return shrink(original(*args, **kwargs))
    return staticmethod(fromfile)


def install() -> None:
    """Shrink every config this process loads, and its own arguments."""
    Config.fromfile = tiny_fromfile(Config.fromfile)
    sys.argv[:] = tiny_argv(sys.argv)
