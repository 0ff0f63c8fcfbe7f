"""Deploying a flexible model at a budget: latency profiles measured on the user's machine, an
inferencer that switches choice per call, ONNX Runtime for exported choices.

``FlexInferencer`` imports MMSegmentation's and MMDetection's inferencers; import it from
``flexseg.deploy.inferencer`` (or here, lazily) so that reading a profile stays light.
"""
from .latency import ChoiceLatency, LatencyProfile

__all__ = ["ChoiceLatency", "FlexInferencer", "LatencyProfile"]


def __getattr__(name: str):
    if name == "FlexInferencer":
        from .inferencer import FlexInferencer
        return FlexInferencer
    raise AttributeError(f"module 'flexseg.deploy' has no attribute {name!r}")
