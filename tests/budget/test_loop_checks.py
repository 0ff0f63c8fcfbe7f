"""Budget-loop checks that fail fast: DDP with choices that skip weights (the other bad
settings are catalogued in tests/test_bad_inputs.py)."""
import pytest
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from flexseg.budget import build_budget_space
from flexseg.budget.loop import check_ddp_unused_parameters
from tests.conftest import free_port

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
