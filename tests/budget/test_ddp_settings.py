"""DDP settings follow the parameters each choice leaves unused (flexseg.budget.ddp): a graph
walk only where choices differ, a static graph where the used parameters never change and each
step runs one backward pass."""
import pytest
import torch
from mmengine.config import Config

from flexseg.budget.ddp import WRAPPER, budget_ddp_wrapper, ddp_settings
from flexseg.models import FlexiViT, StitchedViT


def _stitched(**options) -> StitchedViT:
    torch.manual_seed(0)
    return StitchedViT(dict(embed_dim=16, depth=3, num_heads=2, mlp_ratio=2.0),
                       dict(embed_dim=24, depth=6, num_heads=2, mlp_ratio=2.0),
                       img_size=32, patch_size=8, lora_rank=2, out_indices=(0, 2),
                       out_stride=8, **options)


def _flexivit() -> FlexiViT:
    return FlexiViT(img_size=32, patch_size=8, patch_sizes=[4, 8], embed_dim=16, depth=2,
                    num_heads=2, out_indices=(1,), keep_points=(0,), keep_rates=(1.0, 0.5))


@pytest.mark.parametrize("build, one_backward, expected", [
    (_flexivit, True, (False, True)),           # every choice uses every parameter
    (_flexivit, False, (False, False)),         # no static graph with no_sync accumulation
    (_stitched, True, (True, False)),           # routes leave different blocks unused
    (_stitched, False, (True, False)),
    (lambda: _stitched(choices=["S"]), True, (False, True)),   # one route: a constant set,
    (lambda: _stitched(choices=["S"]), False, (True, False)),  # found once or searched for
], ids=["flexivit", "flexivit-sandwich", "stitched", "stitched-sandwich", "pinned-route",
        "pinned-route-sandwich"])
def test_settings(build, one_backward, expected):
    settings = ddp_settings(build(), one_backward)
    assert (settings.find_unused_parameters, settings.static_graph) == expected
    assert settings.reason


def _cfg(**keys) -> Config:
    return Config(dict(train_cfg=dict(type="BudgetIterBasedTrainLoop",
                                      sampler=dict(strategy="uniform"), distill=None), **keys))


def test_wrapper_config_is_auto_unless_the_config_states_it():
    assert budget_ddp_wrapper(_cfg()) == dict(type=WRAPPER, find_unused_parameters="auto",
                                              static_graph="auto", one_backward_per_step=True)
    stated = budget_ddp_wrapper(_cfg(find_unused_parameters=True))  # the stitched configs' key
    assert stated["find_unused_parameters"] is True and stated["static_graph"] == "auto"
    own = budget_ddp_wrapper(_cfg(model_wrapper_cfg=dict(type="MMDistributedDataParallel",
                                                         static_graph=False)))
    assert own["type"] == WRAPPER and own["static_graph"] is False
    other = dict(type="MMFullyShardedDataParallel")
    assert budget_ddp_wrapper(_cfg(model_wrapper_cfg=other)) == other


@pytest.mark.parametrize("train_cfg", [
    dict(sampler=dict(strategy="sandwich")),
    dict(sampler=dict(strategy="uniform", num_choices=2)),
    dict(sampler=dict(strategy="uniform"), distill=dict(mode="inplace")),
])
def test_several_sub_networks_per_step_are_seen(train_cfg):
    cfg = Config(dict(train_cfg=dict(type="BudgetIterBasedTrainLoop", **train_cfg)))
    assert budget_ddp_wrapper(cfg)["one_backward_per_step"] is False
