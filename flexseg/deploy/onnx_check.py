"""Does an exported choice compute what the torch model computes, on real data, and how fast?

Every test image of the config goes through the model's data preprocessor once; the torch
model at the exported choice (``DenseForward``) and the ONNX Runtime session each predict it;
both predictions go through the model's own post-processing and the config's evaluator. Reported:
for segmentation the share of pixels whose argmax label agrees, for depth the largest
difference; each backend's metrics; and both backends' latency per call on the first batch,
timed interleaved in this process (ratio: median over rounds of ONNX Runtime / torch).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from flexseg.evaluation.export.dense_forward import DenseForward
from flexseg.evaluation.results import default_main_metric, numeric_metrics
from flexseg.models.contract import find_flexible

from .measure import interleaved_times, latency_summary, progress
from .onnx_runtime import OnnxRunner


def _evaluator(cfg: Config, dataset_meta: dict | None) -> Evaluator:
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset_meta
    return evaluator


def _in_chunks(forward, inputs: torch.Tensor, batch: int) -> torch.Tensor:
    """``forward`` over a batch in pieces of the graph's static ``batch``, the last one padded
    with zeros (its padding rows dropped from the result)."""
    outputs = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start:start + batch]
        short = batch - len(chunk)
        if short:
            chunk = torch.cat([chunk, chunk.new_zeros(short, *chunk.shape[1:])])
        output = torch.as_tensor(forward(chunk))
        outputs.append(output[:batch - short])
    return torch.cat(outputs)


def check_onnx(cfg: Config, model: nn.Module, runner: OnnxRunner, rounds: int = 30,
               warmup: int = 3) -> dict:
    """The comparison of the module docstring on ``cfg``'s test set; ``model`` is in eval
    mode and ``runner`` holds one exported choice of it."""
    backbone = find_flexible(model)
    original = backbone.active_choice
    backbone.activate(runner.choice)
    forward = DenseForward(model)
    batch, _, height, width = runner.input_shape
    loader = Runner.build_dataloader(cfg.test_dataloader)
    meta = getattr(loader.dataset, "metainfo", None)
    evaluators = {"torch": _evaluator(cfg, meta), "onnxruntime": _evaluator(cfg, meta)}
    agree = pixels = 0
    largest_difference = 0.0
    first = None
    try:
        with torch.no_grad():
            for data_batch in progress(loader, f"checking {runner.choice} on the test set"):
                data = model.data_preprocessor(data_batch, False)
                inputs, samples = data["inputs"], data["data_samples"]
                if tuple(inputs.shape[-2:]) != (height, width):
                    raise ValueError(
                        f"the check needs test images of the exported shape {height}x{width}; "
                        f"{samples[0].metainfo.get('img_path', 'a test image')} comes as "
                        f"{inputs.shape[-2]}x{inputs.shape[-1]}")
                first = inputs[:batch] if first is None else first
                outputs = {"torch": _in_chunks(forward, inputs, batch),
                           "onnxruntime": _in_chunks(runner, inputs.cpu(), batch).to(
                               inputs.device)}
                largest_difference = max(largest_difference, float(
                    (outputs["torch"] - outputs["onnxruntime"]).abs().max()))
                if forward.task == "segmentation":
                    agree += int((outputs["torch"].argmax(1)
                                  == outputs["onnxruntime"].argmax(1)).sum())
                    pixels += outputs["torch"][:, 0].numel()
                for name, evaluator in evaluators.items():
                    predicted = model.postprocess_result(
                        outputs[name], [sample.new() for sample in samples])
                    evaluator.process(data_samples=predicted, data_batch=data_batch)
            if first is None:
                raise ValueError("the config's test set is empty")
            if len(first) < batch:
                first = torch.cat([first, first.new_zeros(batch - len(first),
                                                          *first.shape[1:])])
            times = interleaved_times({"torch": lambda: forward(first),
                                       "onnxruntime": lambda: runner(first.cpu())},
                                      rounds, warmup, label="timing torch vs onnxruntime")
    finally:
        backbone.activate(original)
    size = len(loader.dataset)
    metrics = {name: numeric_metrics(evaluator.evaluate(size))
               for name, evaluator in evaluators.items()}
    main = default_main_metric(list(metrics["torch"]))
    report = dict(choice=runner.choice, task=forward.task, images=size,
                  shape=[height, width], batch=batch, threads=runner.threads,
                  largest_difference=largest_difference, metric=main,
                  metrics=metrics,
                  metric_difference=abs(metrics["torch"][main] - metrics["onnxruntime"][main]),
                  latency={name: latency_summary(values, batch)
                           for name, values in times.items()},
                  onnxruntime_vs_torch=float(torch.tensor(
                      [o / t for o, t in zip(times["onnxruntime"], times["torch"])]).median()))
    if pixels:
        report["pixel_agreement"] = agree / pixels
    return report


def describe_check(report: dict) -> str:
    """The check in three lines."""
    main, metrics = report["metric"], report["metrics"]
    agreement = (f"argmax agreement {100 * report['pixel_agreement']:.4f}% of pixels"
                 if "pixel_agreement" in report else "")
    latency = report["latency"]
    return "\n".join([
        f"check of {report['choice']} on {report['images']} test images: {agreement}"
        f"{'; ' if agreement else ''}largest output difference "
        f"{report['largest_difference']:.3g}",
        f"{main}: torch {metrics['torch'][main]:.4g}, onnxruntime "
        f"{metrics['onnxruntime'][main]:.4g} (difference {report['metric_difference']:.3g})",
        f"latency per call (batch {report['batch']}, {report['threads']} threads, "
        f"interleaved): torch median {latency['torch']['median_ms']:.3g} / p95 "
        f"{latency['torch']['p95_ms']:.3g} ms, onnxruntime median "
        f"{latency['onnxruntime']['median_ms']:.3g} / p95 "
        f"{latency['onnxruntime']['p95_ms']:.3g} ms "
        f"(onnxruntime / torch {report['onnxruntime_vs_torch']:.3f}x)"])
