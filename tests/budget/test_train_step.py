"""The sandwich step: sub-network gradients add up into exactly one optimizer step."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from flexseg.budget.train_step import accumulated_train_step, budget_train_step

CHOICES = ["p4", "p16", "p8"]


def _batch() -> dict:
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 64), generator=generator))
        samples.append(sample)
    images = [torch.randint(0, 256, (3, 64, 64), generator=generator, dtype=torch.uint8)
              for _ in range(2)]
    return dict(inputs=images, data_samples=samples)


def _sgd(model, **options) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), **options)


def test_gradients_of_all_sub_networks_are_summed_into_one_step(tiny_segmentor):
    reference = copy.deepcopy(tiny_segmentor)
    losses = []
    for choice in CHOICES:
        reference.backbone.activate(choice)
        data = reference.data_preprocessor(_batch(), True)
        loss, _ = reference.parse_losses(reference(**data, mode="loss"))
        loss.backward()
        losses.append(loss.item())
    tiny_segmentor.train()
    optim_wrapper = _sgd(tiny_segmentor)
    log_vars = accumulated_train_step(tiny_segmentor, _batch(), optim_wrapper,
                                      tiny_segmentor.backbone, CHOICES)
    trained = 0
    for (name, param), ref in zip(tiny_segmentor.named_parameters(), reference.parameters()):
        if ref.grad is None:
            continue
        torch.testing.assert_close(param, ref - 0.1 * ref.grad, msg=name)
        assert param.grad is None or not param.grad.any(), f"{name}: gradients not cleared"
        trained += 1
    assert trained > 0
    assert log_vars["loss"].item() == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    assert tiny_segmentor.backbone.active_choice.id == CHOICES[-1]


def test_a_single_choice_is_activated_and_trained_by_the_model_step(tiny_segmentor):
    before = [p.detach().clone() for p in tiny_segmentor.parameters()]
    tiny_segmentor.train()
    log_vars = budget_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor),
                                 tiny_segmentor.backbone,
                                 [tiny_segmentor.backbone.choice("p12")])
    assert tiny_segmentor.backbone.active_choice.id == "p12"
    assert torch.isfinite(log_vars["loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, tiny_segmentor.parameters()))


def test_mmengine_accumulation_is_refused(tiny_segmentor):
    with pytest.raises(ValueError, match="accumulative_counts=1"):
        accumulated_train_step(tiny_segmentor, _batch(), _sgd(tiny_segmentor,
                                                              accumulative_counts=2),
                               tiny_segmentor.backbone, CHOICES)
