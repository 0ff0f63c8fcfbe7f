"""One choice of a flexible segmentor or depth estimator as an ONNX graph of static shape.

The graph is ``DenseForward`` at the choice: a preprocessed batch (N, 3, H, W) -> segmentation
logits (N, classes, H, W) or depth (N, 1, H, W). Shapes are static, as mmdeploy advises for
ViT segmentors: the token grid, the resampled position embedding and the neck's map sizes all
follow H and W. torch's exporter (the ``torch.export`` based one, ``dynamo=True``) traces the
eager model after one eager pass at that shape, so what the choice derives from its weights (a
PI-resized patch kernel, a resampled position embedding, merged stitching maps) enters the
graph as constants (``layers.eval_cache``): the graph holds no ``pinv``, which ONNX lacks. The
legacy TorchScript exporter (``dynamo=False``) clears those caches when it switches the model to
eval mode and has no ONNX form of the UPerNet pooling at sizes that do not divide the map.

Metadata in the file (``metadata_props``): the choice, task, input and output names and
shapes, GFLOPs if given, and the preprocessing the input must have had (mean, std, channel
order), so a program needs only ONNX Runtime and this file.
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import torch
import torch.nn as nn

from flexseg.budget.inference import eval_mode
from flexseg.layers.size import Size2d
from flexseg.models.contract import Choice, find_flexible, unwrap

from .dense_forward import DenseForward, run_at_shape

INPUT_NAME = "inputs"
INSTALL_HINT = "pip install -e '.[deploy]' (onnx, onnxruntime, onnxscript)"


def require_onnx() -> None:
    """Import the optional exporter dependencies, or say in one line how to install them."""
    for module in ("onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            raise ImportError(f"ONNX export needs the deploy extra ({module} is missing): "
                              f"{INSTALL_HINT}") from None


def preprocessing_metadata(model: nn.Module) -> dict:
    """Mean, std and channel swap of the model's data preprocessor: what turns an image into
    the graph's input."""
    preprocessor = unwrap(model).data_preprocessor
    metadata = {"channel_order_in": "bgr" if getattr(preprocessor, "channel_conversion", False)
                else "as loaded"}
    for name in ("mean", "std"):
        value = getattr(preprocessor, name, None)
        if value is not None:
            # float32 values at float32 precision: 123.675, not 123.67500305175781
            metadata[name] = [float(f"{float(v):.7g}") for v in value.flatten()]
    return metadata


def export_onnx(model: nn.Module, choice: Choice | str, image_hw: Size2d, out: str | Path,
                batch: int = 1, extra_metadata: dict | None = None) -> Path:
    """Write ``model`` at ``choice`` for (batch, 3, H, W) inputs to ``out`` (.onnx). The
    backbone's active choice and every module's mode are restored afterwards."""
    require_onnx()
    backbone = find_flexible(model)
    choice = backbone.choice(choice)
    forward = DenseForward(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    original = backbone.active_choice
    with eval_mode(unwrap(model)):
        output = run_at_shape(model, choice, image_hw, batch)  # checks the shape, derives
        images = torch.zeros(batch, 3, *image_hw, device=output.device)
        backbone.activate(choice)
        try:
            # The exporter reports each of its stages on stdout; keep the tool's output short.
            with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                program = torch.onnx.export(forward, (images,), dynamo=True,
                                            input_names=[INPUT_NAME],
                                            output_names=[forward.output_name])
        finally:
            backbone.activate(original)
    metadata = dict(choice=choice.id, task=forward.task, input=INPUT_NAME,
                    input_shape=[batch, 3, *image_hw], output=forward.output_name,
                    output_shape=list(output.shape), **preprocessing_metadata(model),
                    **(extra_metadata or {}))
    program.model.metadata_props.update({f"flexseg_{key}": json.dumps(value)
                                         for key, value in metadata.items()})
    program.save(str(out))
    return out

