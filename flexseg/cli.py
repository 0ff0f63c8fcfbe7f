"""Shared plumbing of ``tools/train.py`` and ``tools/test.py``: config loading and short errors."""
from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

import torch.nn as nn

import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, init_default_scope

from flexseg.budget.compile import check_backend
from flexseg.budget.ddp import budget_ddp_wrapper
from flexseg.compat import (adapt_config_to_device, add_resume_hooks,
                            allow_mmengine_checkpoints, init_cpu_distributed,
                            make_local_writes_atomic)
from flexseg.compat.amp import AMP_DTYPES, enable_amp
from flexseg.compat.distributed import collective_timeout
from flexseg.compat.task_match import check_dataset_task
from flexseg.datasets.unreadable import CONFIG_KEY as SKIP_UNREADABLE, handle_unreadable_samples

DEBUG_ENV = "FLEXSEG_DEBUG"
# Errors caused by what the user passed: reported in one line instead of a deep traceback.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, KeyError, ValueError, TypeError,
               ImportError, AttributeError)


class ConfigOptions(DictAction):
    """mmengine's ``--cfg-options KEY=VALUE ...``, refusing malformed items with a one-line
    usage error (mmengine fails on them with an assertion or an unpacking error)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str] | None, option_string: str | None = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values or []:
            key, equals, value = item.partition("=")
            if not equals or not all(key.split(".")):
                raise argparse.ArgumentError(self, f"{item!r} is not KEY=VALUE with a dotted "
                                             "key, e.g. train_cfg.max_iters=100")
            try:
                options[key] = self._parse_iterable(value)
            except AssertionError:
                raise argparse.ArgumentError(self, f"{item!r}: brackets do not balance, e.g. "
                                             "write model.backbone.patch_sizes=[8,16]") from None
        setattr(namespace, self.dest, options)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="directory for logs and checkpoints "
                        "(default: work_dirs/<config name>)")
    parser.add_argument("--cfg-options", nargs="+", action=ConfigOptions,
                        help="override config keys, e.g. train_cfg.max_iters=100")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"],
                        default="none", help="job launcher")
    # torchrun passes --local-rank/--local_rank to older launch styles.
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def add_amp_args(parser: argparse.ArgumentParser, what: str) -> None:
    """``--amp`` and ``--amp-dtype`` (flexseg.compat.amp)."""
    parser.add_argument("--amp", action="store_true", help=f"mixed precision ({what}): "
                        "float16 on CUDA, bfloat16 on the CPU, unless --amp-dtype says")
    parser.add_argument("--amp-dtype", choices=AMP_DTYPES,
                        help="autocast dtype of --amp (implies --amp)")


def apply_amp_args(cfg: Config, args: argparse.Namespace, train: bool) -> None:
    """``--amp``/``--amp-dtype`` into ``cfg`` (after every other change to its loops)."""
    if args.amp or args.amp_dtype:
        enable_amp(cfg, args.amp_dtype, train)


def add_compile_args(parser: argparse.ArgumentParser) -> None:
    """``--compile`` and ``--compile-backend`` (flexseg.budget.compile)."""
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone, "
                        "neck and heads (one graph per choice and training/evaluation)")
    parser.add_argument("--compile-backend", metavar="NAME",
                        help="torch.compile backend of --compile (implies it; default "
                        "inductor), e.g. aot_eager")


def apply_compile_args(cfg: Config, args: argparse.Namespace) -> None:
    """``--compile``/``--compile-backend`` into ``cfg``: a ``CompileHook``, replacing any."""
    if not (args.compile or args.compile_backend):
        return
    backend = args.compile_backend or "inductor"
    check_backend(backend)
    hooks = [hook for hook in cfg.get("custom_hooks") or [] if hook.get("type") != "CompileHook"]
    cfg.custom_hooks = [*hooks, dict(type="CompileHook", backend=backend)]


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply overrides and make it run on this machine."""
    path = Path(args.config)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    cfg = Config.fromfile(str(path))
    if args.cfg_options:
        unknown = _unknown_top_level_keys(cfg, args.cfg_options)
        if unknown:
            raise KeyError(f"--cfg-options sets unknown config keys: {', '.join(unknown)} "
                           f"(top-level keys of {path}: {', '.join(sorted(cfg.keys()))})")
        cfg.merge_from_dict(args.cfg_options)
    check_dataset_task(cfg)
    cfg.launcher = args.launcher
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = str(Path("work_dirs") / path.stem)
    if args.launcher != "none":
        cfg.model_wrapper_cfg = budget_ddp_wrapper(cfg)
    adapt_config_to_device(cfg)
    init_cpu_distributed(args.launcher, collective_timeout(cfg))
    allow_mmengine_checkpoints()
    make_local_writes_atomic()
    add_resume_hooks(cfg)
    handle_unreadable_samples(cfg.get(SKIP_UNREADABLE, False))
    return cfg


def build_model_for_analysis(args: argparse.Namespace) -> tuple[Config, nn.Module]:
    """Config and model of ``args.config`` for tools that inspect a model without running it."""
    args.launcher, args.local_rank, args.work_dir = "none", 0, None
    cfg = load_config(args)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    return cfg, MODELS.build(cfg.model)


def _unknown_top_level_keys(cfg: Config, options: dict) -> list[str]:
    """Keys whose first component the config does not have (a typo would be silently added)."""
    return sorted({key for key in options if key.split(".")[0] not in cfg})


def run_cli(main: Callable[[], None]) -> None:
    """Run ``main``; report user errors in one line unless FLEXSEG_DEBUG=1."""
    try:
        main()
        if dist.is_available() and dist.is_initialized():
            # A gloo group left to interpreter teardown can abort the process at exit, and so
            # can a DDP wrapper that outlives its group (the runner's reference cycles keep it
            # alive): free it first, then end the group.
            gc.collect()
            dist.barrier()
            dist.destroy_process_group()
    except USER_ERRORS as error:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        print(f"error: {_one_line(error)}", file=sys.stderr)
        print(f"(set {DEBUG_ENV}=1 for the full traceback)", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as error:
        if os.environ.get(DEBUG_ENV) == "1" or not _is_collective_timeout(error):
            raise
        rank = dist.get_rank() if dist.is_initialized() else 0
        detail = str(error).split("] ")[-1]
        print(f"error: rank {rank}: a collective operation timed out ({detail}); another rank "
              "stopped responding, so the job ends (env_cfg.dist_cfg.timeout sets the wait)",
              file=sys.stderr)
        sys.exit(3)
    except KeyboardInterrupt:
        traceback.print_exc(limit=0)
        sys.exit(130)


def _one_line(error: BaseException) -> str:
    """The error's message; for one re-raised from a data-loader worker (whose message holds
    the worker's traceback) the original message, the traceback's last line."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    message = str(text) or type(error).__name__  # a KeyError's str() is its quoted repr
    if "Original Traceback" in message:
        last = message.strip().splitlines()[-1]
        message = re.sub(r"^[\w.]+: ", "", last)
    return message


def _is_collective_timeout(error: RuntimeError) -> bool:
    """gloo and NCCL report a peer that never answers as a timed-out operation; gloo, when the
    wait ends inside a transfer, as an application timeout closing the connection."""
    text = str(error)
    return ("Timed out" in text or "Application timeout" in text
            or "timed out" in text and "collective" in text.lower())
