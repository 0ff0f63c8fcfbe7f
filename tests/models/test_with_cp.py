"""Activation checkpointing changes memory, not results: the same outputs and gradients, drop
path and token keeping included."""
import pytest
import torch

from flexseg.models import FlexiViT, StitchedViT


def _flexivit(with_cp: bool) -> FlexiViT:
    torch.manual_seed(0)
    return FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=16, depth=4,
                    num_heads=2, drop_path_rate=0.3, out_indices=(1, 3), out_stride=8,
                    keep_points=(1,), keep_rates=(1.0, 0.5), with_cp=with_cp)


def _stitched(with_cp: bool) -> StitchedViT:
    torch.manual_seed(0)
    model = StitchedViT(dict(embed_dim=16, depth=2, num_heads=2, drop_path_rate=0.3),
                        dict(embed_dim=32, depth=4, num_heads=2), img_size=32, patch_size=8,
                        lora_rank=2, out_stride=8, routes=('S', 'L', 'S-L', 'L-S'),
                        out_indices=(0, 1), keep_points=(0,), keep_rates=(1.0, 0.5),
                        with_cp=with_cp)
    for layer in model.stitching_layers():
        layer.set_map(torch.eye(layer.out_dim, layer.in_dim), torch.zeros(layer.out_dim))
    return model


def _loss_and_grads(model, choice):
    calls = []
    for module in model.modules():
        if type(module).__name__ == "Block":
            module.register_forward_pre_hook(lambda *_: calls.append(1))
    model.train()
    model.activate(choice)
    torch.manual_seed(1)  # the same drop-path draws in both runs
    x = torch.randn(2, 3, 32, 32)
    loss = sum((out ** 2).mean() for out in model(x))
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                           if p.grad is not None}, len(calls)


@pytest.mark.parametrize("build, choice", [(_flexivit, "p8-k0.5"), (_flexivit, "p16"),
                                           (_stitched, "s0-l2-k0.5")])
def test_checkpointing_gives_the_same_loss_and_gradients(build, choice):
    plain_loss, plain_grads, plain_calls = _loss_and_grads(build(False), choice)
    cp_loss, cp_grads, cp_calls = _loss_and_grads(build(True), choice)
    assert cp_calls == 2 * plain_calls  # every block started again in the backward pass
    assert torch.equal(plain_loss, cp_loss)
    assert plain_grads.keys() == cp_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        torch.testing.assert_close(cp_grads[name], grad, msg=name)
