"""OneCycleMomentum cycles beta1 (or SGD's momentum) as mmcv 1.x's OneCycle momentum hook does;
the independent reference is PyTorch's OneCycleLR with cycle_momentum, whose phases are mmcv's."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import PARAM_SCHEDULERS

import flexseg  # noqa: F401  (registers the scheduler)


def _params():
    return [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize("optimizer, key", [
    (lambda p: torch.optim.AdamW([{"params": p[:1]}, {"params": p[1:], "lr": 1e-4}], lr=1e-3,
                                 betas=(0.9, 0.999)), "betas"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "momentum"),
], ids=["adamw beta1", "sgd momentum"])
def test_momentum_follows_torch_one_cycle_in_every_group(optimizer, key):
    total = 23
    ours = optimizer(_params())
    scheduler = PARAM_SCHEDULERS.build(dict(type="OneCycleMomentum", total_steps=total),
                                       default_args=dict(optimizer=OptimWrapper(ours)))
    reference = optimizer(_params())
    torch_cycle = torch.optim.lr_scheduler.OneCycleLR(
        reference, max_lr=1e-3, total_steps=total, pct_start=0.3, anneal_strategy="cos",
        cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
    seen = []
    for _ in range(total):
        for group, expected in zip(ours.param_groups, reference.param_groups, strict=True):
            value = group[key][0] if key == "betas" else group[key]
            wanted = expected[key][0] if key == "betas" else expected[key]
            assert value == pytest.approx(wanted, abs=1e-12)
            if key == "betas":
                assert group["betas"][1] == 0.999
        seen.append(value)
        ours.step()
        scheduler.step()
        reference.step()
        torch_cycle.step()
    assert seen[0] == pytest.approx(0.95) and min(seen) == pytest.approx(0.85, abs=1e-3)
    assert seen.index(min(seen)) == round(0.3 * total) - 1


def test_bad_settings_are_one_clear_error():
    optim = OptimWrapper(torch.optim.AdamW(_params(), lr=1e-3))
    with pytest.raises(ValueError, match="total_steps"):
        PARAM_SCHEDULERS.build(dict(type="OneCycleMomentum", total_steps=0),
                               default_args=dict(optimizer=optim))
