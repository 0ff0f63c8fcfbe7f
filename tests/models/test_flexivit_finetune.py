"""Attention-only fine-tuning and frozen backbones: which parameters learn."""
import pytest
import torch

from flexseg.models import FlexiViT


def _gradient_receivers(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters()
            if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("num_parallel", [1, 2])
def test_attn_only_trains_attention_and_position_embedding_only(tiny_kwargs, num_parallel):
    torch.manual_seed(0)
    backbone = FlexiViT(img_size=32, patch_size=8, attn_only=True, num_parallel=num_parallel,
                        out_indices=(0, 1), layer_scale_init=0.5, **tiny_kwargs)
    head = torch.nn.Conv2d(32, 3, kernel_size=1)
    torch.nn.ModuleDict(dict(backbone=backbone, head=head)).train()
    backbone.activate("p12")  # resampled position embedding: the gradient must flow through
    maps = backbone(torch.randn(2, 3, 36, 36))
    sum(head(m).square().mean() for m in maps).backward()

    attention = {n for n, _ in backbone.named_parameters()
                 if ".attn.qkv." in n or ".attn.proj." in n}
    assert len(attention) == 2 * 4 * num_parallel
    assert _gradient_receivers(backbone) == attention | {"pos_embed"}
    assert _gradient_receivers(head) == {"weight", "bias"}
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable == attention | {"pos_embed"}


@pytest.mark.parametrize("options", [dict(), dict(final_norm=True), dict(out_indices=(0,)),
                                     dict(final_norm=True, out_indices=(0,)),
                                     dict(num_parallel=2, num_reg_tokens=2, layer_scale_init=0.1),
                                     dict(stem="hmlp")])
def test_every_trainable_parameter_gets_a_gradient_from_the_dense_forward(tiny_kwargs, options):
    """What DDP requires without find_unused_parameters; unused parameters are frozen."""
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs, **options).train()
    model.activate("p16")
    sum(m.square().mean() for m in model(torch.randn(2, 3, 32, 32))).backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == _gradient_receivers(model)
    assert ("norm.weight" in trainable) == (options.get("final_norm", False)
                                            and options.get("out_indices", (-1,)) == (-1,))
    assert any(n.startswith("blocks.1.") for n in trainable) == ("out_indices" not in options)


def test_attn_only_survives_pretrained_loading(tmp_path, tiny_kwargs):
    source = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model = FlexiViT(img_size=32, patch_size=8, attn_only=True, **tiny_kwargs,
                     init_cfg=dict(type="Pretrained", checkpoint=str(tmp_path / "w.pth")))
    model.init_weights()
    assert not model.cls_token.requires_grad and model.pos_embed.requires_grad
    torch.testing.assert_close(model.cls_token, source.cls_token)


def test_attn_only_keeps_the_hmlp_batch_norm_statistics(tiny_kwargs):
    model = FlexiViT(img_size=32, stem="hmlp", attn_only=True, **tiny_kwargs).train()
    stats = model.patch_embed.proj[1].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.patch_embed.proj[1].running_mean, stats)
    assert model.blocks.training and not model.patch_embed.training


def test_frozen_backbone_has_no_trainable_parameters_and_stays_in_eval(tiny_kwargs):
    model = FlexiViT(img_size=32, patch_size=8, frozen=True, drop_path_rate=0.5,
                     **tiny_kwargs).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(m.training for m in model.modules())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model(x)[0], model(x)[0])  # drop path inactive
