"""torch.compile (flexseg.budget.compile): a pinned choice compiles to eager's outputs; the
flexible model compiles one graph per choice and mode (and its head too if its BN keeps
statistics per choice), past dynamo's default limit of 8; the tools' --compile trains and
validates through compiled modules."""
import argparse

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch._dynamo.utils import counters

from flexseg.budget.compile import (CompileHook, compile_model, graphs_bound,
                                    inductor_unavailable, part_graphs_bound)
from flexseg.cli import add_common_args, add_compile_args, apply_compile_args, load_config
from flexseg.models import FlexiViT
from tests.budget.conftest import build_segmentor
from tests.conftest import REPO, quick_run_options

NO_INDUCTOR = inductor_unavailable()


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


@pytest.mark.skipif(NO_INDUCTOR is not None, reason=NO_INDUCTOR or "")
def test_pinned_choice_compiles_to_the_eager_outputs():
    torch.manual_seed(0)
    model = FlexiViT(img_size=32, patch_size=8, patch_sizes=[8], embed_dim=16, depth=2,
                     num_heads=2, out_indices=(0, 1), out_stride=4).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        eager = model(x)
        compiled = torch.compile(model.forward)(x)  # inductor: generated C++ kernels
    for a, b in zip(eager, compiled, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def _graphs() -> int:
    return counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("head_norm, patch_sizes, graphs_per_mode", [
    ("BN", [4, 8, 12, 16], 8 + 1 + 1), ("ChoiceBatchNorm", [8, 16], 4 + 1 + 4)])
def test_flexible_model_compiles_one_graph_per_choice_and_mode(head_norm, patch_sizes,
                                                               graphs_per_mode):
    """Patch sizes x keep rates 1 and 0.5: the backbone compiles one graph per choice in
    training and one in evaluation (16 with 8 choices, beyond dynamo's default limit of 8 per
    function, after which it would run eagerly); the neck sees maps of one shape (fixed stride)
    and compiles one graph per mode, and so does the head unless its BN keeps statistics per
    choice (then one per choice and mode). A second round over the choices compiles nothing
    more, and the total is the parts' bound."""
    model = build_segmentor(embed_dim=16, head_norm=head_norm, patch_sizes=patch_sizes,
                            keep_points=(1,), keep_rates=(1.0, 0.5), out_stride=8)
    choices = model.backbone.space()
    assert len(choices) == 2 * len(patch_sizes) and graphs_bound(model.backbone) == \
        2 * len(choices)
    assert compile_model(model, backend="eager") == ["backbone", "neck", "decode_head",
                                                      "auxiliary_head"]
    x = torch.randn(2, 3, 64, 64)
    for training, expected in ((True, graphs_per_mode), (False, 2 * graphs_per_mode)):
        model.train(training)
        for _ in range(2):
            for choice in choices:
                model.backbone.activate(choice)
                with torch.set_grad_enabled(training):
                    out = model(x, mode="tensor")  # backbone, neck, decode head
                if training:
                    out.sum().backward()
            assert _graphs() == expected
    run = ("backbone", "neck", "decode_head")
    assert _graphs() == sum(part_graphs_bound(getattr(model, part), model.backbone)
                            for part in run)


def test_compile_switch_trains_and_validates_through_compiled_modules(tmp_path,
                                                                       small_digitseg):
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    add_common_args(parser)
    add_compile_args(parser)
    args = parser.parse_args([
        str(REPO / "tests/budget/budget_config.py"), "--compile-backend", "eager",
        "--work-dir", str(tmp_path), "--cfg-options",
        *quick_run_options(small_digitseg, max_iters=3)])
    cfg = load_config(args)
    apply_compile_args(cfg, args)
    apply_compile_args(cfg, args)  # once only
    assert [h for h in cfg.custom_hooks if h["type"] == "CompileHook"] == [
        dict(type="CompileHook", backend="eager")]
    runner = Runner.from_cfg(cfg)
    runner.train()
    backbone = runner.model.backbone
    assert hasattr(backbone.forward, "_torchdynamo_orig_callable")  # compiled in place
    trained = {line.split("choice: ")[1].split()[0]
               for line in (tmp_path / runner.timestamp / f"{runner.timestamp}.log")
               .read_text().splitlines() if "Iter(train)" in line}
    # Training compiled one backbone graph per trained choice and a neck and a head graph;
    # validation added graphs in evaluation mode; no part exceeds its bound.
    assert len(trained) + 2 < _graphs() <= 3 * graphs_bound(backbone)


def test_unknown_backend_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown torch.compile backend 'inductr'"):
        CompileHook(backend="inductr").before_run(None)
    cfg = Config(dict(custom_hooks=[]))
    with pytest.raises(ValueError, match="unknown torch.compile backend"):
        apply_compile_args(cfg, argparse.Namespace(compile=True, compile_backend="inductr"))
