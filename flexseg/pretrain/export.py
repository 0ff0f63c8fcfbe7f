"""Write pretrained weights in the formats real ones come in.

- timm-style PyTorch state dicts (``blocks.0.attn.qkv.weight``, ``head.weight``...), optionally
  stored in half precision to keep committed files small (loaders cast to the model's dtype);
- big_vision-style ``.npz`` files (``params/Transformer/encoderblock_0/...``, kernels in
  (in, out) / HWIO layout, attention kernels split per head), the inverse of
  ``flexseg.models.checkpoint.big_vision_to_timm``, so that reader runs on a real file.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from flexseg.compat.atomic_write import write_bytes_atomically

StateDict = Mapping[str, torch.Tensor]
_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
_BV_BLOCK = "Transformer/encoderblock_{i}/"
_BV_ATTN = _BV_BLOCK + "MultiHeadDotProductAttention_0/"
_BV_MLP = _BV_BLOCK + "MlpBlock_0/"


def save_timm_state_dict(state: StateDict, path: str | os.PathLike,
                         dtype: torch.dtype = torch.float32) -> Path:
    """Save floating tensors as ``dtype`` (others unchanged), atomically."""
    cast = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
            for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(cast, buffer)
    write_bytes_atomically(path, buffer.getvalue())
    return Path(path)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _block_arrays(i: int, name: str, value: torch.Tensor,
                  num_heads: int) -> dict[str, np.ndarray]:
    """big_vision arrays for one timm block tensor."""
    simple = {"norm1.weight": "LayerNorm_0/scale", "norm1.bias": "LayerNorm_0/bias",
              "norm2.weight": "LayerNorm_1/scale", "norm2.bias": "LayerNorm_1/bias"}
    if name in simple:
        return {_BV_BLOCK.format(i=i) + simple[name]: _numpy(value)}
    mlp = re.fullmatch(r"mlp\.fc([12])\.(weight|bias)", name)
    if mlp:
        dense = f"Dense_{int(mlp.group(1)) - 1}/"
        array = _numpy(value.T if mlp.group(2) == "weight" else value)
        return {_BV_MLP.format(i=i) + dense + ("kernel" if mlp.group(2) == "weight" else "bias"):
                array}
    attn = _BV_ATTN.format(i=i)
    if name in ("attn.qkv.weight", "attn.qkv.bias"):
        out = {}
        for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
            if name.endswith("weight"):  # (out, in) -> (in, heads, head_dim)
                out[attn + part + "/kernel"] = _numpy(chunk.T).reshape(chunk.shape[1],
                                                                       num_heads, -1)
            else:
                out[attn + part + "/bias"] = _numpy(chunk).reshape(num_heads, -1)
        return out
    if name == "attn.proj.weight":  # (out, in) -> (heads, head_dim, out)
        return {attn + "out/kernel": _numpy(value.T).reshape(num_heads, -1, value.shape[0])}
    if name == "attn.proj.bias":
        return {attn + "out/bias": _numpy(value)}
    raise KeyError(f"blocks.{i}.{name} has no big_vision equivalent (layer scale and parallel "
                   "blocks are not part of that format)")


def timm_to_big_vision(state: StateDict, num_heads: int) -> dict[str, np.ndarray]:
    """big_vision parameter arrays (under ``params/``) for a timm-named ViT state dict."""
    top = {"patch_embed.proj.bias": "embedding/bias", "cls_token": "cls",
           "pos_embed": "pos_embedding", "norm.weight": "Transformer/encoder_norm/scale",
           "norm.bias": "Transformer/encoder_norm/bias", "head.bias": "head/bias"}
    arrays: dict[str, np.ndarray] = {}
    for name, value in state.items():
        block = _BLOCK.match(name)
        if block:
            arrays.update(_block_arrays(int(block.group(1)), block.group(2), value, num_heads))
        elif name == "patch_embed.proj.weight":  # OIHW -> HWIO
            arrays["embedding/kernel"] = _numpy(value.permute(2, 3, 1, 0))
        elif name == "head.weight":
            arrays["head/kernel"] = _numpy(value.T)
        elif name in top:
            arrays[top[name]] = _numpy(value)
        else:
            raise KeyError(f"{name} has no big_vision equivalent")
    return {f"params/{name}": np.ascontiguousarray(array) for name, array in arrays.items()}


def save_big_vision_npz(state: StateDict, path: str | os.PathLike, num_heads: int) -> Path:
    """Write ``timm_to_big_vision(state)`` as an uncompressed ``.npz`` (atomically)."""
    buffer = io.BytesIO()
    np.savez(buffer, **timm_to_big_vision(state, num_heads))
    write_bytes_atomically(path, buffer.getvalue())
    return Path(path)
