"""Pretrained ViT weights from local files, as timm-style state dicts.

Formats: PyTorch files (``torch.load`` with ``weights_only=True``; raw state dicts or ones
wrapped in ``state_dict``/``model``/``module``, ``module.`` and ``backbone.`` prefixes handled,
DeiT III's original ``gamma_1/2`` layer-scale names accepted), ``.safetensors``, and big_vision
``.npz`` files (ViT and FlexiViT), whose names are translated by the single table
``BIG_VISION_NAMES``. Model-specific adaptation (position-embedding resampling, kernel resizing)
happens in the model's checkpoint filter; this module only reads, renames and reports.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

StateDict = dict[str, torch.Tensor]

# Classifier parts of full models: not backbone weights, discarded (logged, never an error).
HEAD_PREFIXES = ("head.", "head_drop.", "fc_norm.", "attn_pool.", "pre_logits.")
BIG_VISION_HEAD_PREFIXES = ("head/", "MAPHead_0/", "pre_logits/")
BIG_VISION_ROOT_PREFIXES = ("params/", "opt/target/")


def _same(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _conv_kernel(array: np.ndarray) -> torch.Tensor:
    """HWIO -> OIHW."""
    return _same(array).permute(3, 2, 0, 1).contiguous()


def _dense_kernel(array: np.ndarray) -> torch.Tensor:
    """(in, out) -> (out, in)."""
    return _same(array).T.contiguous()


def _heads_in_kernel(array: np.ndarray) -> torch.Tensor:
    """DenseGeneral (D, heads, head_dim) -> (heads*head_dim, D)."""
    return _same(array).reshape(array.shape[0], -1).T.contiguous()


def _heads_out_kernel(array: np.ndarray) -> torch.Tensor:
    """DenseGeneral (heads, head_dim, D) -> (D, heads*head_dim)."""
    return _same(array).reshape(-1, array.shape[-1]).T.contiguous()


def _flat(array: np.ndarray) -> torch.Tensor:
    return _same(array).reshape(-1)


_BLOCK = "Transformer/encoderblock_{i}/"
_ATTN = _BLOCK + "MultiHeadDotProductAttention_0/"
_MLP = _BLOCK + "MlpBlock_0/"
# big_vision name -> (timm name, converter). ``{i}`` is the block index; ``attn.q/k/v`` are
# concatenated into ``attn.qkv`` afterwards.
BIG_VISION_NAMES: dict[str, tuple[str, Callable[[np.ndarray], torch.Tensor]]] = {
    "embedding/kernel": ("patch_embed.proj.weight", _conv_kernel),
    "embedding/bias": ("patch_embed.proj.bias", _same),
    "cls": ("cls_token", _same),
    "pos_embedding": ("pos_embed", _same),
    "Transformer/pos_embedding": ("pos_embed", _same),
    "Transformer/posembed_input/pos_embedding": ("pos_embed", _same),
    "Transformer/encoder_norm/scale": ("norm.weight", _same),
    "Transformer/encoder_norm/bias": ("norm.bias", _same),
    _BLOCK + "LayerNorm_0/scale": ("blocks.{i}.norm1.weight", _same),
    _BLOCK + "LayerNorm_0/bias": ("blocks.{i}.norm1.bias", _same),
    _BLOCK + "LayerNorm_1/scale": ("blocks.{i}.norm2.weight", _same),
    _BLOCK + "LayerNorm_1/bias": ("blocks.{i}.norm2.bias", _same),
    _ATTN + "query/kernel": ("blocks.{i}.attn.q.weight", _heads_in_kernel),
    _ATTN + "query/bias": ("blocks.{i}.attn.q.bias", _flat),
    _ATTN + "key/kernel": ("blocks.{i}.attn.k.weight", _heads_in_kernel),
    _ATTN + "key/bias": ("blocks.{i}.attn.k.bias", _flat),
    _ATTN + "value/kernel": ("blocks.{i}.attn.v.weight", _heads_in_kernel),
    _ATTN + "value/bias": ("blocks.{i}.attn.v.bias", _flat),
    _ATTN + "out/kernel": ("blocks.{i}.attn.proj.weight", _heads_out_kernel),
    _ATTN + "out/bias": ("blocks.{i}.attn.proj.bias", _same),
    _MLP + "Dense_0/kernel": ("blocks.{i}.mlp.fc1.weight", _dense_kernel),
    _MLP + "Dense_0/bias": ("blocks.{i}.mlp.fc1.bias", _same),
    _MLP + "Dense_1/kernel": ("blocks.{i}.mlp.fc2.weight", _dense_kernel),
    _MLP + "Dense_1/bias": ("blocks.{i}.mlp.fc2.bias", _same),
}
_BLOCK_NAME = re.compile(r"Transformer/encoderblock_(\d+)/")
# The original DeiT III release names layer scale ``blocks.N.gamma_1``; timm names it ``ls1.gamma``.
_DEIT3_LAYER_SCALE = re.compile(r"^blocks\.(\d+)\.gamma_([12])$")
_SCANNED_BLOCKS = "Transformer/encoderblock/"  # layers stacked on a leading depth axis


@dataclass
class LoadReport:
    """What a pretrained load did not match."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)


def _unstack_scanned(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, array in params.items():
        if name.startswith(_SCANNED_BLOCKS):
            rest = name[len(_SCANNED_BLOCKS):]
            for index, layer in enumerate(array):
                out[f"Transformer/encoderblock_{index}/{rest}"] = layer
        else:
            out[name] = array
    return out


def big_vision_to_timm(params: Mapping[str, np.ndarray]) -> tuple[StateDict, list[str]]:
    """Rename/reshape flat big_vision params (``a/b/c`` keys) to timm names.

    Returns the state dict and the discarded classifier-head names. Names the table does not
    know are kept as they are, so they surface as unexpected keys.
    """
    stripped = {}
    for name, array in params.items():
        for root in BIG_VISION_ROOT_PREFIXES:
            if name.startswith(root):
                name = name[len(root):]
        stripped[name] = np.asarray(array)
    discarded = sorted(n for n in stripped if n.startswith(BIG_VISION_HEAD_PREFIXES))
    state: StateDict = {}
    for name, array in _unstack_scanned(stripped).items():
        if name in discarded:
            continue
        match = _BLOCK_NAME.match(name)
        template = _BLOCK_NAME.sub(_BLOCK, name) if match else name
        if template not in BIG_VISION_NAMES:
            state[name] = _same(array)
            continue
        target, convert = BIG_VISION_NAMES[template]
        state[target.format(i=match.group(1)) if match else target] = convert(array)
    return _merge_qkv(state), discarded


def _merge_qkv(state: StateDict) -> StateDict:
    for name in [n for n in state if n.endswith(".attn.q.weight") or n.endswith(".attn.q.bias")]:
        stem, kind = name.rsplit(".q.", 1)
        parts = [state.pop(f"{stem}.{p}.{kind}") for p in "qkv"]
        state[f"{stem}.qkv.{kind}"] = torch.cat(parts, dim=0)
    return state


def unwrap_state_dict(checkpoint: Mapping, prefix: str | None = None) -> StateDict:
    """The backbone weights inside a saved object.

    Descends into ``state_dict``/``model``/``module`` wrappers, strips a ``module.`` prefix
    (DDP), then keeps only the keys under ``prefix`` (stripped) if given, or under
    ``backbone.`` if any key has it (a full OpenMMLab model).
    """
    state = checkpoint
    while True:
        inner = next((state[k] for k in ("state_dict", "model", "module")
                      if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            break
        state = inner
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    if prefix is None and any(k.startswith("backbone.") for k in state):
        prefix = "backbone."
    if prefix:
        prefix = prefix if prefix.endswith(".") else prefix + "."
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise KeyError(f"no weights under prefix {prefix!r} in the checkpoint")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}


def _timm_layer_scale_names(state: StateDict) -> StateDict:
    """Rename DeiT III's original layer-scale keys to timm's, so its released files load too."""
    return {_DEIT3_LAYER_SCALE.sub(r"blocks.\1.ls\2.gamma", k): v for k, v in state.items()}


def read_checkpoint(path: str, prefix: str | None = None) -> tuple[StateDict, list[str]]:
    """timm-named tensors from a local file, and the discarded classifier-head names.

    A missing file raises FileNotFoundError and an unreadable one (truncated, not a weights
    file) ValueError, each naming the file in one line."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"pretrained weights not found: {path}")
    try:
        return _read_checkpoint(path, prefix)
    except (EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: cannot be read as a weights file (truncated or not a "
                         f"checkpoint): {str(error).splitlines()[0]}") from error
    except RuntimeError as error:
        if "safe loading" in str(error):
            raise
        raise ValueError(f"{path}: cannot be read as a weights file (truncated or not a "
                         f"checkpoint): {str(error).splitlines()[0]}") from error


def _read_checkpoint(path: str, prefix: str | None) -> tuple[StateDict, list[str]]:
    if path.endswith(".npz"):
        with np.load(path) as npz:
            return big_vision_to_timm({k: npz[k] for k in npz.files})
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file
        state = unwrap_state_dict(load_file(path), prefix)
    else:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            raise RuntimeError(
                f"{path} holds objects that safe loading (weights_only=True) refuses; save "
                f"just the weights, e.g. torch.save(checkpoint['state_dict'], new_path)"
            ) from error
        state = unwrap_state_dict(saved, prefix)
    state = _timm_layer_scale_names(state)
    discarded = sorted(k for k in state if k.startswith(HEAD_PREFIXES))
    return {k: v for k, v in state.items() if k not in discarded}, discarded


def load_pretrained(model: nn.Module, path: str, *,
                    adapt: Callable[[StateDict], StateDict] = lambda s: s,
                    prefix: str | None = None, strict: bool = False) -> LoadReport:
    """Load ``path`` into ``model`` after ``adapt``; log mismatches, raise on them if strict.

    Classifier-head weights are discarded and only logged, even in strict mode. Weights of
    another architecture (``check_fits``) raise before anything is loaded.
    """
    state, discarded = read_checkpoint(path, prefix)
    state = adapt(state)
    check_fits(model, state, path)
    result = model.load_state_dict(state, strict=False)
    report = LoadReport(sorted(result.missing_keys), sorted(result.unexpected_keys), discarded)
    name = type(model).__name__
    print_log(f"{name}: loaded {path}", logger="current")
    if report.discarded:
        print_log(f"{name}: discarded classifier weights: {report.discarded}", logger="current")
    if report.missing or report.unexpected:
        message = (f"{name}: weights from {path} do not match the model.\n"
                   f"missing keys (left at their initial values): {report.missing}\n"
                   f"unexpected keys (ignored): {report.unexpected}")
        if strict:
            raise RuntimeError(message)
        print_log(message, logger="current", level=30)
    return report


_BLOCK_INDEX = re.compile(r"^blocks\.(\d+)\.")


def _depth(names: Iterable[str]) -> int:
    return 1 + max((int(m.group(1)) for m in map(_BLOCK_INDEX.match, names) if m), default=-1)


def check_fits(model: nn.Module, state: Mapping[str, torch.Tensor], path: str) -> None:
    """Raise ValueError, in one line naming ``path``, when the weights are another
    architecture's: another depth (block count) or any tensor of another shape (width, heads'
    layout, patch kernel). Checked before loading, so nothing is half-loaded."""
    own = model.state_dict()
    name = type(model).__name__
    file_depth, model_depth = _depth(state), _depth(own)
    if file_depth and model_depth and file_depth != model_depth:
        raise ValueError(f"{path}: pretrained weights do not fit {name}: {file_depth} blocks in "
                         f"the file, {model_depth} in the model")
    widths = (_width(state), _width(own))
    hint = (f" (width {widths[0]} in the file, {widths[1]} in the model)"
            if None not in widths and widths[0] != widths[1] else "")
    for key, value in state.items():
        if key in own and tuple(value.shape) != tuple(own[key].shape):
            raise ValueError(f"{path}: pretrained weights do not fit {name}: {key} is "
                             f"{tuple(value.shape)} in the file, {tuple(own[key].shape)} in the "
                             f"model{hint}")


def _width(state: Mapping[str, torch.Tensor]) -> int | None:
    """Token width of ViT weights (from the class token or position embedding)."""
    for key in ("cls_token", "pos_embed"):
        if key in state:
            return int(state[key].shape[-1])
    return None
