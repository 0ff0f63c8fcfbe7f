"""Budget-loop checks that fail fast: sampler keys, and DDP with choices that skip weights."""
import pytest
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from flexseg.budget import build_budget_space
from flexseg.budget.loop import BudgetTraining, check_ddp_unused_parameters
from tests.conftest import free_port


def test_unknown_sampler_keys_are_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="unknown sampler keys gap; allowed: strategy, seed, "
                                         "gap_gflops, weights, num_random, min_gflops"):
        BudgetTraining(runner=None, sampler=dict(strategy="ros", gap=1.0), image_hw=None,
                       eval_choice=None)


@pytest.fixture
def one_rank_group():
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def test_ddp_needs_find_unused_parameters_when_choices_skip_weights(tiny_segmentor,
                                                                     monkeypatch,
                                                                     one_rank_group):
    backbone = tiny_segmentor.backbone
    space = build_budget_space(tiny_segmentor, (64, 64))
    strict = DistributedDataParallel(tiny_segmentor, find_unused_parameters=False)
    check_ddp_unused_parameters(strict, backbone, space)  # FlexiViT: every choice uses all
    full = backbone.params("p16")
    monkeypatch.setattr(type(backbone), "params",
                        lambda self, choice: full - (self.choice(choice).id == "p4"))
    with pytest.raises(ValueError, match="find_unused_parameters=True"):
        check_ddp_unused_parameters(strict, backbone, space)
    lenient = DistributedDataParallel(tiny_segmentor, find_unused_parameters=True)
    check_ddp_unused_parameters(lenient, backbone, space)
