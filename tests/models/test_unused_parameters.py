"""``unused_parameters(choice)`` names exactly the trainable parameters that a forward and
backward pass under the choice leaves without a gradient (what DDP would find by walking the
graph), for every choice of a stitched space with token keeping and of FlexiViT."""
import pytest
import torch

from flexseg.models import FlexiViT, StitchedViT


def _stitched() -> StitchedViT:
    torch.manual_seed(0)
    model = StitchedViT(dict(embed_dim=16, depth=3, num_heads=2, mlp_ratio=2.0),
                        dict(embed_dim=24, depth=6, num_heads=2, mlp_ratio=2.0),
                        img_size=32, patch_size=8, lora_rank=2, out_indices=(0, 2),
                        out_stride=8, keep_points=(0,), keep_rates=(1.0, 0.5))
    model.fit_stitches([torch.randn(2, 3, 32, 32)])
    return model


def _flexivit() -> FlexiViT:
    torch.manual_seed(0)
    return FlexiViT(img_size=32, patch_size=8, patch_sizes=[4, 8], embed_dim=16, depth=3,
                    num_heads=2, out_indices=(0, 2), keep_points=(1,), keep_rates=(1.0, 0.5))


def _without_gradient(model: torch.nn.Module, choice) -> frozenset[str]:
    model.zero_grad(set_to_none=True)
    model.activate(choice)
    sum(level.sum() for level in model(torch.randn(2, 3, 32, 32))).backward()
    return frozenset(name for name, p in model.named_parameters()
                     if p.requires_grad and p.grad is None)


@pytest.mark.parametrize("build", [_stitched, _flexivit], ids=["stitched", "flexivit"])
def test_unused_parameters_are_those_without_a_gradient(build):
    model = build().train()
    unused = {choice.id: model.unused_parameters(choice) for choice in model.space()}
    for choice in model.space():
        assert unused[choice.id] == _without_gradient(model, choice), choice.id
    if isinstance(model, StitchedViT):  # the property is not vacuous: routes differ
        assert len(set(unused.values())) > 2
        assert unused["S"] and all(name.startswith(("large.", "stitches.", "level_maps."))
                                   for name in unused["S"])
    else:
        assert set(unused.values()) == {frozenset()}
