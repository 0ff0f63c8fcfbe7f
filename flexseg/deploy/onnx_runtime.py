"""An exported choice run by ONNX Runtime on the CPU, with a fixed number of threads.

The file's ``flexseg_*`` metadata (``evaluation.export.onnx``) says which choice it is, the
static input shape and the preprocessing its input must have had.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from flexseg.evaluation.export.onnx import INSTALL_HINT


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError(f"the onnxruntime backend needs the deploy extra: {INSTALL_HINT}") \
            from None
    return onnxruntime


class OnnxRunner:
    """``runner(inputs)`` -> the graph's output for a preprocessed (N, 3, H, W) batch of the
    exported shape. ``threads``: ONNX Runtime's intra-op threads (default: torch's count, so
    both backends get the same cores); inter-op work runs sequentially."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        ort = require_onnxruntime()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: no per-session graph-optimisation notes
        self.threads = options.intra_op_num_threads
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        custom = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {key.removeprefix("flexseg_"): json.loads(value)
                         for key, value in custom.items() if key.startswith("flexseg_")}
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.input_shape = tuple(graph_input.shape)
        self.choice = self.metadata.get("choice")

    def __call__(self, inputs: torch.Tensor | np.ndarray) -> np.ndarray:
        array = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else inputs
        if tuple(array.shape) != self.input_shape:
            raise ValueError(f"the exported graph takes inputs of shape "
                             f"{'x'.join(map(str, self.input_shape))} (static), got "
                             f"{'x'.join(map(str, array.shape))}")
        return self.session.run(None, {self.input_name: np.ascontiguousarray(
            array, dtype=np.float32)})[0]
