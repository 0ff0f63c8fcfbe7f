"""Budget-loop checks that fail fast: DDP with choices that skip weights (the other bad
settings are catalogued in tests/test_bad_inputs.py)."""
import pytest
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from flexseg.budget import build_budget_space
from flexseg.budget.loop import check_ddp_settings
from tests.conftest import free_port

@pytest.fixture
def one_rank_group():
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def test_ddp_settings_that_would_fail_mid_run_are_refused(tiny_segmentor, monkeypatch,
                                                           one_rank_group):
    backbone = tiny_segmentor.backbone
    space = build_budget_space(tiny_segmentor, (64, 64))
    strict = DistributedDataParallel(tiny_segmentor, find_unused_parameters=False)
    static = DistributedDataParallel(tiny_segmentor, static_graph=True)
    lenient = DistributedDataParallel(tiny_segmentor, find_unused_parameters=True)
    for model in (strict, static, lenient):  # FlexiViT: every choice uses every parameter
        check_ddp_settings(model, backbone, space, one_backward_per_step=True)
    with pytest.raises(ValueError, match="static_graph=False"):  # the sandwich rule
        check_ddp_settings(static, backbone, space, one_backward_per_step=False)
    monkeypatch.setattr(type(backbone), "unused_parameters", lambda self, choice: frozenset(
        {"pos_embed"} if self.choice(choice).id == "p4" else ()))
    with pytest.raises(ValueError, match="find_unused_parameters=True"):
        check_ddp_settings(strict, backbone, space, one_backward_per_step=True)
    with pytest.raises(ValueError, match="static_graph=False and find_unused_parameters=True"):
        check_ddp_settings(static, backbone, space, one_backward_per_step=True)
    check_ddp_settings(lenient, backbone, space, one_backward_per_step=False)
