"""Pretrained loading: big_vision .npz, wrapped/prefixed PyTorch files, resizing, reporting."""
import numpy as np
import pytest
import torch

import flexseg.models.checkpoint as checkpoint_module
from flexseg.layers import pi_resize_kernel, resample_pos_embed
from flexseg.models import FlexiViT
from flexseg.models.checkpoint import load_pretrained


def _to_big_vision(state: dict, num_heads: int, scanned: bool = False,
                   cls_in_pos_embed: bool = False) -> dict:
    """Write timm weights in big_vision's layout (flax names, HWIO/(in, out) kernels)."""
    dim = state["norm.weight"].shape[0]
    heads = lambda w: w.T.reshape(dim, num_heads, dim // num_heads)  # (out, in) -> (D, H, hd)
    pos = state["pos_embed"]
    out = {
        "embedding/kernel": state["patch_embed.proj.weight"].permute(2, 3, 1, 0),
        "embedding/bias": state["patch_embed.proj.bias"],
        "cls": state["cls_token"],
        "Transformer/encoder_norm/scale": state["norm.weight"],
        "Transformer/encoder_norm/bias": state["norm.bias"],
        "head/kernel": state["head.weight"].T,
        "head/bias": state["head.bias"],
    }
    if cls_in_pos_embed:  # the old layout: [cls] concatenated before adding the embedding
        out["Transformer/posembed_input/pos_embedding"] = pos
    else:
        out["pos_embedding"] = pos
    blocks = []
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    for i in range(depth):
        get = lambda name: state[f"blocks.{i}.{name}"]
        q, k, v = get("attn.qkv.weight").chunk(3)
        qb, kb, vb = get("attn.qkv.bias").chunk(3)
        attn = "MultiHeadDotProductAttention_0/"
        blocks.append({
            "LayerNorm_0/scale": get("norm1.weight"), "LayerNorm_0/bias": get("norm1.bias"),
            "LayerNorm_1/scale": get("norm2.weight"), "LayerNorm_1/bias": get("norm2.bias"),
            attn + "query/kernel": heads(q), attn + "query/bias": qb.reshape(num_heads, -1),
            attn + "key/kernel": heads(k), attn + "key/bias": kb.reshape(num_heads, -1),
            attn + "value/kernel": heads(v), attn + "value/bias": vb.reshape(num_heads, -1),
            attn + "out/kernel": get("attn.proj.weight").T.reshape(num_heads, -1, dim),
            attn + "out/bias": get("attn.proj.bias"),
            "MlpBlock_0/Dense_0/kernel": get("mlp.fc1.weight").T,
            "MlpBlock_0/Dense_0/bias": get("mlp.fc1.bias"),
            "MlpBlock_0/Dense_1/kernel": get("mlp.fc2.weight").T,
            "MlpBlock_0/Dense_1/bias": get("mlp.fc2.bias"),
        })
    if scanned:
        for name in blocks[0]:
            out[f"Transformer/encoderblock/{name}"] = torch.stack([b[name] for b in blocks])
    else:
        for i, block in enumerate(blocks):
            out.update({f"Transformer/encoderblock_{i}/{n}": t for n, t in block.items()})
    return {name: t.detach().numpy() for name, t in out.items()}


@pytest.mark.parametrize("layout", ["flexivit", "scanned", "old cls+posemb", "params/ root"])
def test_big_vision_npz_gives_the_tokens_of_the_same_weights(tmp_path, timm_vit, tiny_kwargs,
                                                             layout):
    reference = timm_vit(no_embed_class=layout != "old cls+posemb")
    arrays = _to_big_vision(reference.state_dict(), num_heads=2, scanned=layout == "scanned",
                            cls_in_pos_embed=layout == "old cls+posemb")
    if layout == "params/ root":
        arrays = {f"params/{name}": a for name, a in arrays.items()}
    np.savez(tmp_path / "flexivit.npz", **arrays)
    model = FlexiViT(img_size=32, patch_size=8, pos_embed_grid=4, **tiny_kwargs,
                     init_cfg=dict(type="Pretrained", checkpoint=str(tmp_path / "flexivit.npz"),
                                   strict=True))
    model.init_weights()
    model.eval().activate("p8")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (model.forward_features(x) - reference.forward_features(x)).abs().max() <= 1e-5


WRAPPERS = {
    "raw": lambda s: s,
    "state_dict + backbone. + other modules": lambda s: {"state_dict": {
        **{f"backbone.{k}": v for k, v in s.items()},
        "decode_head.conv_seg.weight": torch.ones(1)}},
    "model": lambda s: {"model": s, "epoch": 3},
    "DDP module.": lambda s: {"state_dict": {f"module.backbone.{k}": v for k, v in s.items()}},
}


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
def test_wrapped_and_prefixed_checkpoints_load(tmp_path, tiny_kwargs, wrapper):
    source = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs)
    torch.save(WRAPPERS[wrapper](source.state_dict()), tmp_path / "w.pth")
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs)
    report = load_pretrained(model, str(tmp_path / "w.pth"), adapt=model.checkpoint_filter,
                             strict=True)
    assert report.missing == report.unexpected == []
    for (name, ours), theirs in zip(model.state_dict().items(), source.state_dict().values()):
        torch.testing.assert_close(ours, theirs, msg=name)


def test_explicit_prefix_and_safetensors(tmp_path, tiny_kwargs):
    from safetensors.torch import save_file

    source = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs)
    save_file({f"encoder.{k}": v.contiguous() for k, v in source.state_dict().items()},
              tmp_path / "w.safetensors")
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs, init_cfg=dict(
        type="Pretrained", checkpoint=str(tmp_path / "w.safetensors"), prefix="encoder",
        strict=True))
    model.init_weights()
    torch.testing.assert_close(model.pos_embed, source.pos_embed)


def test_classifier_weights_are_discarded_not_reported(tmp_path, timm_vit, tiny_kwargs):
    torch.save(timm_vit().state_dict(), tmp_path / "w.pth")
    model = FlexiViT(img_size=32, patch_size=8, pos_embed_grid=4, **tiny_kwargs)
    report = load_pretrained(model, str(tmp_path / "w.pth"), adapt=model.checkpoint_filter,
                             strict=True)
    assert report.discarded == ["head.bias", "head.weight"]


def test_kernel_and_position_embedding_are_resized_on_load(tmp_path, timm_vit, tiny_kwargs):
    reference = timm_vit(no_embed_class=True)  # 8x8 kernel, 4x4 position grid
    torch.save(reference.state_dict(), tmp_path / "w.pth")
    model = FlexiViT(img_size=112, patch_size=16, pos_embed_grid=(7, 5), **tiny_kwargs,
                     init_cfg=dict(type="Pretrained", checkpoint=str(tmp_path / "w.pth")))
    model.init_weights()
    kernel = reference.patch_embed.proj.weight.detach()
    torch.testing.assert_close(model.patch_embed.proj.weight,
                               pi_resize_kernel(kernel.double(), (16, 16)).float())
    torch.testing.assert_close(model.pos_embed,
                               resample_pos_embed(reference.pos_embed.detach(), (4, 4), (7, 5)))


def _broken_checkpoint(tmp_path, tiny_kwargs) -> str:
    state = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs).state_dict()
    del state["blocks.0.attn.qkv.weight"]
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "broken.pth")
    return str(tmp_path / "broken.pth")


def test_strict_mode_raises_with_the_missing_and_unexpected_keys(tmp_path, tiny_kwargs):
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs, init_cfg=dict(
        type="Pretrained", checkpoint=_broken_checkpoint(tmp_path, tiny_kwargs), strict=True))
    with pytest.raises(RuntimeError, match=r"(?s)missing.*blocks\.0\.attn\.qkv\.weight"
                                           r".*unexpected.*extra\.weight"):
        model.init_weights()


def test_default_mode_logs_mismatches_and_loads_the_rest(tmp_path, tiny_kwargs, monkeypatch):
    messages = []
    monkeypatch.setattr(checkpoint_module, "print_log", lambda msg, **kw: messages.append(msg))
    path = _broken_checkpoint(tmp_path, tiny_kwargs)
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs,
                     init_cfg=dict(type="Pretrained", checkpoint=path))
    model.init_weights()
    assert any("blocks.0.attn.qkv.weight" in m and "extra.weight" in m for m in messages)
    torch.testing.assert_close(model.blocks[0].attn.proj.weight,
                               torch.load(path)["blocks.0.attn.proj.weight"])


class _NotAWeight:
    pass


def test_files_with_arbitrary_objects_are_refused_with_advice(tmp_path, tiny_kwargs):
    torch.save({"state_dict": {}, "meta": _NotAWeight()}, tmp_path / "run.pth")
    model = FlexiViT(img_size=32, patch_size=8, **tiny_kwargs)
    with pytest.raises(RuntimeError, match=r"weights_only=True.*state_dict"):
        load_pretrained(model, str(tmp_path / "run.pth"))
