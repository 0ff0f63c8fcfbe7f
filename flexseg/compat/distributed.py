"""Distributed training without a GPU.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, its default DDP wrapper
passes ``device_ids=[LOCAL_RANK]`` (invalid for CPU modules), and SyncBN raises on the CPU. On a
machine without CUDA we therefore start a gloo process group ourselves (the Runner then skips its
own init), wrap with ``device_ids=None`` and use plain BN. The group's collective timeout is
mmengine's ``env_cfg.dist_cfg.timeout`` (seconds): a rank that hangs ends the job after it,
instead of after gloo's default 30 minutes.
"""
from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import torch
import torch.distributed as dist
from mmengine.config import Config

from .amp import amp_wrapper_for_this_machine


def _slurm_env_to_torch() -> None:
    """Translate Slurm's variables into the ones ``init_process_group('env://')`` reads."""
    os.environ.setdefault("RANK", os.environ["SLURM_PROCID"])
    os.environ.setdefault("WORLD_SIZE", os.environ["SLURM_NTASKS"])
    os.environ.setdefault("LOCAL_RANK", os.environ["SLURM_LOCALID"])
    if "MASTER_ADDR" not in os.environ:
        nodes = os.environ.get("SLURM_NODELIST", "127.0.0.1")
        first = subprocess.run(["scontrol", "show", "hostname", nodes], capture_output=True,
                               text=True, check=True).stdout.split()[0]
        os.environ["MASTER_ADDR"] = first
    os.environ.setdefault("MASTER_PORT", "29500")


DEFAULT_TIMEOUT_S = 1800


def collective_timeout(cfg: Config) -> int:
    """Seconds a collective may wait: ``env_cfg.dist_cfg.timeout``, as mmengine reads it."""
    timeout = ((cfg.get("env_cfg") or {}).get("dist_cfg") or {}).get("timeout",
                                                                       DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"env_cfg.dist_cfg.timeout must be a positive number of seconds, got "
                         f"{timeout!r}")
    return int(timeout)


def init_cpu_distributed(launcher: str, timeout_s: int = DEFAULT_TIMEOUT_S) -> bool:
    """Start a gloo process group for ``launcher`` when CUDA is absent; True if it did."""
    if launcher == "none" or torch.cuda.is_available() or dist.is_initialized():
        return False
    if launcher == "slurm":
        _slurm_env_to_torch()
    elif launcher != "pytorch":
        raise ValueError(f"launcher {launcher!r} is not supported without a GPU; use 'pytorch' "
                         "(torchrun) or 'slurm'")
    dist.init_process_group("gloo", timeout=timedelta(seconds=timeout_s))
    return True


def _replace_sync_bn(node: object) -> None:
    if isinstance(node, dict):
        if node.get("type") in ("SyncBN", "MMSyncBN"):
            node["type"] = "BN"
        for value in node.values():
            _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _replace_sync_bn(value)


def adapt_config_to_device(cfg: Config) -> None:
    """Make a GPU-minded config run on the CPU: BN for SyncBN, DDP with ``device_ids=None``,
    ``CPUAmpOptimWrapper`` for ``AmpOptimWrapper``."""
    if torch.cuda.is_available():
        return
    wrapper = cfg.get("optim_wrapper")
    if wrapper and "type" in wrapper:
        wrapper["type"] = amp_wrapper_for_this_machine(wrapper["type"])
    _replace_sync_bn(cfg.model)
    cfg.pop("sync_bn", None)
    if cfg.get("launcher", "none") != "none":
        wrapper = dict(cfg.get("model_wrapper_cfg") or {})
        wrapper.setdefault("type", "MMDistributedDataParallel")
        wrapper["device_ids"] = None
        wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
        cfg.model_wrapper_cfg = wrapper
