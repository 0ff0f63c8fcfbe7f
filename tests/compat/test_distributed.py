"""CPU distributed set-up: gloo without torch.cuda.set_device, DDP without device ids, BN not SyncBN."""
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from flexseg.compat import adapt_config_to_device

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only behaviour")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_single_rank(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, RANK="0", LOCAL_RANK="0", WORLD_SIZE="1",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_mmengine_init_dist_fails_on_cpu():
    result = _run_single_rank("""
        from mmengine.dist import init_dist
        init_dist('pytorch', backend='gloo')
    """)
    assert result.returncode != 0


def test_cpu_distributed_init_then_runner_skips_its_own():
    result = _run_single_rank("""
        import torch
        import torch.distributed as dist
        from mmengine.dist import get_dist_info
        from flexseg.compat import init_cpu_distributed
        assert init_cpu_distributed('pytorch')
        assert dist.get_backend() == 'gloo'
        dist.all_reduce(torch.ones(1))
        print(get_dist_info())
    """)
    assert result.returncode == 0, result.stderr
    assert "(0, 1)" in result.stdout


def test_config_adapted_to_cpu():
    cfg = Config(dict(
        launcher="pytorch",
        find_unused_parameters=True,
        model=dict(backbone=dict(norm_cfg=dict(type="SyncBN")),
                   heads=[dict(norm_cfg=dict(type="SyncBN", requires_grad=True))])))
    adapt_config_to_device(cfg)
    assert cfg.model.backbone.norm_cfg.type == "BN"
    assert cfg.model.heads[0].norm_cfg == dict(type="BN", requires_grad=True)
    assert cfg.model_wrapper_cfg == dict(type="MMDistributedDataParallel", device_ids=None,
                                         find_unused_parameters=True)


def test_single_process_config_keeps_no_wrapper():
    cfg = Config(dict(launcher="none", model=dict(norm_cfg=dict(type="SyncBN"))))
    adapt_config_to_device(cfg)
    assert "model_wrapper_cfg" not in cfg
    assert cfg.model.norm_cfg.type == "BN"
