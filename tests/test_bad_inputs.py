"""The catalogue of bad settings: every public setting of the flexible backbones, the sampler, the
budget training loop, the multi-budget loops and the tools, with the values users get wrong.

Each row builds the thing in this process and names the error type and the words its message
must hold: the setting and what it may be. A row that raises the wrong type, or a message that
does not say what is allowed, fails.
"""
import contextlib
import io
import math
import runpy
import sys
from types import SimpleNamespace

import pytest

from flexseg.budget.distill import DistillConfig
from flexseg.budget.loop import BudgetTraining, plan_training
from flexseg.budget.samplers import SandwichSampler, build_sampler
from flexseg.evaluation.loops import MultiBudgetTestLoop
from flexseg.evaluation.selection import select_choices
from flexseg.models import FlexiViT
from flexseg.models.stitched_vit import StitchedViT

from tests.budget.conftest import make_space
from tests.conftest import BASELINE_CONFIG, REPO

TINY = dict(img_size=32, patch_size=8, patch_sizes=[8, 16], embed_dim=16, depth=2, num_heads=2,
            mlp_ratio=2.0)
SMALL = dict(embed_dim=16, depth=2, num_heads=2, mlp_ratio=2.0)
LARGE = dict(embed_dim=24, depth=4, num_heads=2, mlp_ratio=2.0)
# Crowded at the cheap end: four choices within 3 GFLOPs, then two far apart.
SPACE = make_space({32: 1.0, 24: 2.0, 20: 2.5, 16: 4.0, 12: 9.0, 8: 30.0})
ALL_IDS = "p32, p24, p20, p16, p12, p8"
SIZE = "must be an integer >= 1 or an (H, W) pair of them"
BUDGETS = "budgets must be positive numbers of GFLOPs"
CHOICES = "choices must be 'all', 'pareto' or choice ids"


def flexivit(**settings) -> FlexiViT:
    return FlexiViT(**{**TINY, **settings})


def stitched(small: dict = SMALL, large: dict = LARGE, **settings) -> StitchedViT:
    options = dict(img_size=32, patch_size=8, routes=("S", "L", "S-L", "L-S"))
    return StitchedViT(small, large, **{**options, **settings})


def sampler(strategy: str = "uniform", **settings):
    return build_sampler(SPACE, strategy, **settings)


def training(sampler=None, image_hw=None, eval_choice=None, distill=None) -> BudgetTraining:
    return BudgetTraining(None, sampler, image_hw, eval_choice, distill)


def inplace_plan(**distill):
    return plan_training(SPACE, {}, DistillConfig.from_dict(dict(mode="inplace", **distill)), 0)


def multi_budget_loop(**settings) -> MultiBudgetTestLoop:
    runner = SimpleNamespace(model=flexivit(), cfg={}, work_dir=".")
    return MultiBudgetTestLoop(runner, [], evaluator=dict(type="IoUMetric"), **settings)


class ToolError(Exception):
    """What a tool printed as its one-line error before exiting with status 2."""


def tool(name: str, *args: str) -> None:
    """Run ``tools/<name>`` in this process; its one ``error:`` line becomes a ToolError."""
    stderr = io.StringIO()
    argv = sys.argv
    sys.argv = [name, *args]
    try:
        with contextlib.redirect_stderr(stderr):
            runpy.run_path(str(REPO / "tools" / name), run_name="__main__")
    except SystemExit as exit_info:
        lines = [line for line in stderr.getvalue().splitlines() if "error:" in line]
        assert exit_info.code == 2 and len(lines) == 1, stderr.getvalue()
        raise ToolError(lines[0]) from None
    finally:
        sys.argv = argv


CONFIG = str(REPO / "tests/budget/budget_config.py")


def case(build, error: type, *needles: str, id: str):
    return pytest.param(build, error, needles, id=id)


CASES = [
    # ------------------------------------------------------------ FlexiViT
    case(lambda: flexivit(img_size=0), ValueError, "img_size " + SIZE, id="img_size-zero"),
    case(lambda: flexivit(img_size=-8), ValueError, "img_size " + SIZE, id="img_size-negative"),
    case(lambda: flexivit(img_size="64"), ValueError, "img_size " + SIZE, "'64'",
         id="img_size-string"),
    case(lambda: flexivit(img_size=(32, 32, 32)), ValueError, "img_size " + SIZE,
         id="img_size-three-sides"),
    case(lambda: flexivit(img_size=4, patch_sizes=None), ValueError,
         "no default patch size (8, 10, 12, 15, 16, 20, 24, 30, 40, 48) fits img_size (4, 4); "
         "set patch_sizes", id="img_size-below-every-default-patch-size"),
    case(lambda: flexivit(patch_size=0), ValueError, "patch_size " + SIZE, id="patch_size-zero"),
    case(lambda: flexivit(patch_size=-4), ValueError, "patch_size " + SIZE,
         id="patch_size-negative"),
    case(lambda: flexivit(patch_size=3.5), ValueError, "patch_size " + SIZE,
         id="patch_size-float"),
    case(lambda: flexivit(patch_sizes=[]), ValueError,
         "patch_sizes must be a non-empty list of patch sizes", id="patch_sizes-empty"),
    case(lambda: flexivit(patch_sizes=8), ValueError,
         "patch_sizes must be a list of patch sizes (integers >= 1 or (H, W) pairs), got 8",
         id="patch_sizes-not-a-list"),
    case(lambda: flexivit(patch_sizes=[8, 0]), ValueError, "patch_sizes entries " + SIZE,
         "got 0", id="patch_sizes-zero"),
    case(lambda: flexivit(patch_sizes=[-4]), ValueError, "patch_sizes entries " + SIZE,
         id="patch_sizes-negative"),
    case(lambda: flexivit(patch_sizes=[8, "x"]), ValueError, "patch_sizes entries " + SIZE,
         "'x'", id="patch_sizes-string"),
    case(lambda: flexivit(patch_sizes=[(8,)]), ValueError, "patch_sizes entries " + SIZE,
         id="patch_sizes-one-sided-pair"),
    case(lambda: flexivit(img_size=48, stem="hmlp", hmlp_patch_size=10, embed_dim=32),
         ValueError, "the hMLP stem's native patch size must be a multiple of 4 per side",
         id="hmlp_patch_size-not-a-multiple-of-4"),
    case(lambda: flexivit(in_chans=0), ValueError, "in_chans must be an integer >= 1",
         id="in_chans-zero"),
    case(lambda: flexivit(embed_dim=0), ValueError, "embed_dim must be an integer >= 1",
         id="embed_dim-zero"),
    case(lambda: flexivit(embed_dim=-16), ValueError, "embed_dim must be an integer >= 1",
         id="embed_dim-negative"),
    case(lambda: flexivit(embed_dim=15), ValueError,
         "embed_dim 15 must be divisible by num_heads 2", id="embed_dim-not-divisible"),
    case(lambda: flexivit(stem="hmlp", img_size=32, patch_size=16, patch_sizes=[16],
                          embed_dim=18), ValueError,
         "the hMLP stem needs embed_dim divisible by 4", id="embed_dim-for-the-hmlp-stem"),
    case(lambda: flexivit(depth=0), ValueError, "depth must be an integer >= 1", id="depth-zero"),
    case(lambda: flexivit(depth=2.5), ValueError, "depth must be an integer >= 1, got 2.5",
         id="depth-float"),
    case(lambda: flexivit(num_heads=0), ValueError, "num_heads must be an integer >= 1",
         id="num_heads-zero"),
    case(lambda: flexivit(mlp_ratio=0), ValueError, "mlp_ratio must be a positive number",
         id="mlp_ratio-zero"),
    case(lambda: flexivit(mlp_ratio=-1), ValueError, "mlp_ratio must be a positive number",
         id="mlp_ratio-negative"),
    case(lambda: flexivit(num_reg_tokens=-1), ValueError,
         "num_reg_tokens must be an integer >= 0", id="num_reg_tokens-negative"),
    case(lambda: flexivit(pos_embed_grid=0), ValueError, "pos_embed_grid " + SIZE,
         id="pos_embed_grid-zero"),
    case(lambda: flexivit(drop_path_rate=-0.1), ValueError,
         "drop_path_rate must be a number from 0 to 0.99", id="drop_path_rate-negative"),
    case(lambda: flexivit(drop_path_rate=1.5), ValueError,
         "drop_path_rate must be a number from 0 to 0.99", id="drop_path_rate-above-one"),
    case(lambda: flexivit(num_parallel=0), ValueError, "num_parallel must be an integer >= 1",
         id="num_parallel-zero"),
    case(lambda: flexivit(stem="conv"), ValueError, "stem must be 'linear' or 'hmlp'",
         id="stem-unknown"),
    case(lambda: flexivit(stem="hmlp", img_size=32, patch_size=16, patch_sizes=[16],
                          hmlp_norm="gn"), ValueError,
         "hmlp_norm (the hMLP stem's norm) must be one of ['bn', 'ln'], got 'gn'",
         id="hmlp_norm-unknown"),
    case(lambda: flexivit(fit="resize"), ValueError, "fit must be one of ('pad', 'crop')",
         id="fit-unknown"),
    case(lambda: flexivit(out_indices=(2,)), ValueError,
         "out_indices entries must be an integer from -2 to 1, got 2", id="out_indices-too-large"),
    case(lambda: flexivit(out_indices=(-3,)), ValueError,
         "out_indices entries must be an integer from -2 to 1, got -3",
         id="out_indices-too-negative"),
    case(lambda: flexivit(out_indices=("1",)), ValueError,
         "out_indices entries must be an integer from -2 to 1, got '1'", id="out_indices-string"),
    case(lambda: flexivit(out_indices=()), ValueError,
         "out_indices must name at least one block (block indices from -2 to 1)",
         id="out_indices-empty"),
    case(lambda: flexivit(out_indices=1), ValueError,
         "out_indices must be a list of block indices from -2 to 1, got 1",
         id="out_indices-not-a-list"),
    case(lambda: flexivit(out_stride=0), ValueError, "out_stride must be an integer >= 1",
         id="out_stride-zero"),
    case(lambda: flexivit(out_stride=-8), ValueError, "out_stride must be an integer >= 1",
         id="out_stride-negative"),
    case(lambda: flexivit(out_stride="8"), ValueError, "out_stride must be an integer >= 1",
         id="out_stride-string"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=(1.0, 0.0)), ValueError,
         "keep_rates must be fractions in (0, 1], got [1.0, 0.0]", id="keep_rates-zero"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=(1.2,)), ValueError,
         "keep_rates must be fractions in (0, 1]", id="keep_rates-above-one"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=()), ValueError,
         "keep_rates must be fractions in (0, 1], got []", id="keep_rates-empty"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=0.5), ValueError,
         "keep_rates must be a list of fractions in (0, 1], got 0.5", id="keep_rates-not-a-list"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=["a"]), ValueError,
         "keep_rates must be fractions in (0, 1], got ['a']", id="keep_rates-string"),
    case(lambda: flexivit(keep_points=(2,), keep_rates=(0.5,)), ValueError,
         "keep_points [2] are outside the 2 blocks; allowed: block indices 0 to 1",
         id="keep_points-too-large"),
    case(lambda: flexivit(keep_points=(-1,), keep_rates=(0.5,)), ValueError,
         "keep_points [-1] are outside the 2 blocks; allowed: block indices 0 to 1",
         id="keep_points-negative"),
    case(lambda: flexivit(keep_points=1, keep_rates=(0.5,)), ValueError,
         "keep_points must be a list of block indices 0 to 1, got 1",
         id="keep_points-not-a-list"),
    case(lambda: flexivit(keep_rates=(0.5,)), ValueError,
         "keep rates [0.5] need keep_points (block indices after which tokens are dropped)",
         id="keep_points-missing"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=(0.5,), keep_score="mean"), ValueError,
         "keep_score must be one of ('cls', 'received'), got 'mean'", id="keep_score-unknown"),
    case(lambda: flexivit(keep_points=(1,), keep_rates=(0.5,), class_token=False), ValueError,
         "keep_score 'cls' needs a class token; use keep_score='received'",
         id="keep_score-cls-without-a-class-token"),
    case(lambda: flexivit(window_size=0), ValueError,
         "window_size must be an integer >= 1 (tokens), got 0", id="window_size-zero"),
    case(lambda: flexivit(window_size=2.5), ValueError,
         "window_size must be an integer >= 1 (tokens), got 2.5", id="window_size-float"),
    case(lambda: flexivit(window_size=True), ValueError,
         "window_size must be an integer >= 1 (tokens), got True", id="window_size-bool"),
    case(lambda: flexivit(window_size=2, global_indices=(1, 2)), ValueError,
         "global_indices [2] are outside the 2 blocks; allowed: block indices 0 to 1",
         id="global_indices-too-large"),
    case(lambda: flexivit(window_size=2, global_indices=1), ValueError,
         "global_indices must be a list of block indices 0 to 1, got 1",
         id="global_indices-not-a-list"),
    case(lambda: flexivit(global_indices=(1,)), ValueError,
         "global_indices [1] need window_size", id="global_indices-without-windows"),
    case(lambda: flexivit(window_size=2, global_indices=(1,), keep_points=(0,),
                          keep_rates=(0.5,)), ValueError,
         "keep_points [0] are windowed blocks; with window_size, keep points must be global "
         "blocks (global_indices [1])", id="keep_points-on-a-windowed-block"),
    case(lambda: flexivit().activate("p7"), ValueError,
         "unknown choice 'p7'; available: p8, p16", id="activate-unknown-id"),
    case(lambda: flexivit().activate(8), ValueError, "unknown choice 8; available: p8, p16",
         id="activate-a-number"),
    # ------------------------------------------------------------ stitched ViT
    case(lambda: stitched(small=None), ValueError,
         "small must be a dict of FlexiViT arguments (embed_dim, depth, num_heads, ...), got "
         "None", id="stitched-small-missing"),
    case(lambda: stitched(large=dict(LARGE, depth=5)), ValueError,
         "cannot stitch a 2-block small anchor to a 5-block large anchor: the large anchor's "
         "depth must be a whole multiple", id="stitched-depths-not-multiples"),
    case(lambda: stitched(large=dict(LARGE, depth=1)), ValueError, "whole multiple",
         id="stitched-large-shallower"),
    case(lambda: stitched(small=dict(SMALL, patch_size=16)), ValueError,
         "patch_size cannot be set for the small anchor: StitchedViT sets img_size, "
         "patch_size", id="stitched-anchor-sets-a-shared-key"),
    case(lambda: stitched(small=dict(SMALL, num_reg_tokens=2)), ValueError,
         "the anchors must have the same prefix tokens (class/register tokens); small has 3, "
         "large 1", id="stitched-prefix-tokens-differ"),
    case(lambda: stitched(patch_size=0), ValueError, "patch_size " + SIZE,
         id="stitched-patch_size-zero"),
    case(lambda: stitched(lora_rank=17), ValueError,
         "lora_rank must be an integer from 0 to 16 (the narrower width", id="lora_rank-too-large"),
    case(lambda: stitched(lora_rank=-1), ValueError, "lora_rank must be an integer from 0 to 16",
         id="lora_rank-negative"),
    case(lambda: stitched(lora_rank=2.5), ValueError, "lora_rank must be an integer from 0 to 16",
         id="lora_rank-float"),
    case(lambda: stitched(routes=()), ValueError,
         "unknown route kinds []; allowed: S, L, S-L, L-S, S-L-S, L-S-L", id="routes-empty"),
    case(lambda: stitched(routes=("S", "S-L-S-L")), ValueError,
         "unknown route kinds ['S-L-S-L']; allowed: S, L, S-L, L-S, S-L-S, L-S-L",
         id="routes-unknown-kind"),
    case(lambda: stitched(routes="S-L"), ValueError,
         "routes must be a list of route kinds (S, L, S-L, L-S, S-L-S, L-S-L), got 'S-L'",
         id="routes-a-string"),
    case(lambda: stitched(routes=("S-L-S",)), ValueError,
         "route kind 'S-L-S' needs 2 stitch boundaries; the 2/4 pair with boundaries [1] has 1",
         id="routes-need-more-boundaries"),
    case(lambda: stitched(boundaries=(0,)), ValueError,
         "stitch boundaries [0] are not between blocks of a 2-block small anchor; allowed: "
         "1 to 1", id="boundaries-zero"),
    case(lambda: stitched(boundaries=(2,)), ValueError, "allowed: 1 to 1",
         id="boundaries-past-the-last-block"),
    case(lambda: stitched(boundaries=1), ValueError,
         "boundaries must be a list of small-anchor block counts, got 1",
         id="boundaries-not-a-list"),
    case(lambda: stitched(out_indices=(0,)), ValueError,
         "out_indices [0] must be distinct small-anchor blocks including the last one (1)",
         id="stitched-out_indices-without-the-last-block"),
    case(lambda: stitched(out_indices=(5,)), ValueError,
         "out index 5 is outside the 2-block small anchor; allowed: -2 to 1",
         id="stitched-out_indices-too-large"),
    case(lambda: stitched(out_stride=0), ValueError, "out_stride must be an integer >= 1",
         id="stitched-out_stride-zero"),
    case(lambda: stitched(fit="resize"), ValueError, "fit must be one of ('pad', 'crop')",
         id="stitched-fit-unknown"),
    case(lambda: stitched(keep_points=(0,), keep_rates=(0.0,)), ValueError,
         "keep_rates must be fractions in (0, 1]", id="stitched-keep_rates-zero"),
    case(lambda: stitched(keep_points=(2,), keep_rates=(0.5,)), ValueError,
         "keep_points [2] are outside the 2 blocks", id="stitched-keep_points-too-large"),
    case(lambda: stitched(choices=["l1-s1", "s3-l4"]), ValueError,
         "choices must name routes of the space, got ['l1-s1', 's3-l4']; available: S, L, "
         "s0-l2", id="stitched-choices-unknown"),
    case(lambda: stitched(choices=[]), ValueError,
         "choices must name routes of the space, got []", id="stitched-choices-empty"),
    case(lambda: stitched(choices="s0-l2"), ValueError,
         "choices must be a list of route ids, got 's0-l2'", id="stitched-choices-a-string"),
    case(lambda: stitched().activate("l3-s2"), ValueError,
         "unknown choice 'l3-s2'; available: S, L, s0-l2, l1-s1", id="stitched-activate-unknown"),
    # ------------------------------------------------------------ sampler
    case(lambda: sampler("greedy"), ValueError,
         "unknown sampling strategy 'greedy'; allowed: uniform, ros, weighted, sandwich",
         id="strategy-unknown"),
    case(lambda: sampler(None), ValueError, "unknown sampling strategy None; allowed: uniform",
         id="strategy-missing"),
    case(lambda: sampler(seed=-3), ValueError, "seed must be a non-negative integer, got -3",
         id="seed-negative"),
    case(lambda: sampler(seed="0"), ValueError, "seed must be a non-negative integer, got '0'",
         id="seed-string"),
    case(lambda: sampler(seed=True), ValueError, "seed must be a non-negative integer, got True",
         id="seed-bool"),
    case(lambda: sampler(min_gflops=50.0), ValueError,
         "no choice within min_gflops=50.0, max_gflops=None; the space spans 1 (p32) to 30 "
         "(p8) GFLOPs at 64x64", id="min_gflops-above-every-choice"),
    case(lambda: sampler(min_gflops=10, max_gflops=1), ValueError,
         "no choice within min_gflops=10, max_gflops=1", id="min_gflops-above-max_gflops"),
    case(lambda: sampler(max_gflops=-1), ValueError, "no choice within min_gflops=None, "
         "max_gflops=-1", id="max_gflops-negative"),
    case(lambda: sampler(min_gflops="a"), ValueError, "min_gflops must be a number, got 'a'",
         id="min_gflops-string"),
    case(lambda: sampler(max_gflops=math.nan), ValueError,
         "max_gflops must be a number, got nan", id="max_gflops-nan"),
    case(lambda: sampler("ros", gap_gflops=0.0), ValueError,
         "gap_gflops must be a positive number, got 0.0", id="gap_gflops-zero"),
    case(lambda: sampler("ros", gap_gflops=-1.0), ValueError,
         "gap_gflops must be a positive number, got -1.0", id="gap_gflops-negative"),
    case(lambda: sampler("ros", gap_gflops=math.inf), ValueError,
         "gap_gflops must be a positive number, got inf", id="gap_gflops-infinite"),
    case(lambda: sampler("ros", gap_gflops="1"), ValueError,
         "gap_gflops must be a positive number, got '1'", id="gap_gflops-string"),
    case(lambda: sampler("ros"), ValueError,
         "strategy 'ros' needs gap_gflops (the width of its GFLOPs groups)",
         id="gap_gflops-missing"),
    case(lambda: sampler("uniform", gap_gflops=5.0), ValueError,
         "gap_gflops applies only to strategy 'ros', not 'uniform'", id="gap_gflops-not-ros"),
    case(lambda: sampler("weighted"), ValueError,
         "strategy 'weighted' needs weights={choice id: weight}", id="weights-missing"),
    case(lambda: sampler("weighted", weights={"p32": 1, "p24": 1, "p20": 1, "p16": 1, "p8": 1,
                                              "p5": 1}), ValueError,
         f"weights must give one weight per choice of the space ({ALL_IDS}): unknown ids p5; "
         "no weight for p12", id="weights-unknown-and-missing-ids"),
    case(lambda: sampler("weighted", min_gflops=9.0, weights={"p12": 1}), ValueError,
         "weights must give one weight per choice of the space (p12, p8): no weight for p8",
         id="weights-follow-the-limits"),
    case(lambda: sampler("weighted", weights=dict.fromkeys(SPACE.ids(), 0.0)), ValueError,
         "weights must be finite, non-negative numbers, not all zero", id="weights-all-zero"),
    case(lambda: sampler("weighted", weights={**dict.fromkeys(SPACE.ids(), 1), "p8": -1}),
         ValueError, "weights must be finite, non-negative numbers", id="weights-negative"),
    case(lambda: sampler("weighted", weights={**dict.fromkeys(SPACE.ids(), 1), "p8": "a"}),
         ValueError, "weights must be finite, non-negative numbers", id="weights-string"),
    case(lambda: sampler("weighted", weights=[1] * 6), ValueError,
         f"weights must be a dict {{choice id: weight}} over {ALL_IDS}, got [1, 1, 1, 1, 1, 1]",
         id="weights-a-list"),
    case(lambda: sampler("uniform", weights={"p8": 1}), ValueError,
         "weights applies only to strategy 'weighted', not 'uniform'", id="weights-not-weighted"),
    case(lambda: sampler(num_choices=0), ValueError,
         f"num_choices must be an integer from 1 to 6 (the choices that can be drawn: "
         f"{ALL_IDS}), got 0", id="num_choices-zero"),
    case(lambda: sampler(num_choices=7), ValueError, "num_choices must be an integer from 1 to 6",
         id="num_choices-too-many"),
    case(lambda: sampler(num_choices=1.5), ValueError, "num_choices must be an integer from 1 "
         "to 6", id="num_choices-float"),
    case(lambda: sampler(num_choices=True), ValueError, "num_choices must be an integer from 1 "
         "to 6", id="num_choices-bool"),
    case(lambda: sampler("weighted", num_choices=6, weights={**dict.fromkeys(SPACE.ids(), 1),
                                                             "p32": 0}), ValueError,
         "num_choices must be an integer from 1 to 5", id="num_choices-more-than-drawable"),
    case(lambda: sampler("sandwich", num_choices=2), ValueError,
         "num_choices does not apply to strategy 'sandwich'", id="num_choices-sandwich"),
    case(lambda: SandwichSampler(SPACE, seed=0, num_random=-1), ValueError,
         "num_random must be a non-negative integer, got -1", id="num_random-negative"),
    case(lambda: sampler("sandwich", num_random="2"), ValueError,
         "num_random must be a non-negative integer, got '2'", id="num_random-string"),
    case(lambda: sampler("uniform", num_random=2), ValueError,
         "num_random applies only to strategy 'sandwich', not 'uniform'",
         id="num_random-not-sandwich"),
    case(lambda: sampler().draw(-1), ValueError, "iteration must be an integer >= 0, got -1",
         id="draw-negative-iteration"),
    # ------------------------------------------------------------ budget training loop
    case(lambda: training(sampler=dict(strategy="ros", gap=1.0)), ValueError,
         "unknown sampler keys gap; allowed: strategy, seed, gap_gflops, weights, num_random, "
         "min_gflops, max_gflops, num_choices", id="train_cfg.sampler-unknown-key"),
    case(lambda: training(sampler="uniform"), ValueError,
         "train_cfg.sampler must be a dict such as dict(strategy='uniform') or None, got "
         "'uniform'", id="train_cfg.sampler-a-string"),
    case(lambda: training(distill="inplace"), ValueError,
         "train_cfg.distill must be a dict such as dict(mode='inplace') or None, got 'inplace'",
         id="train_cfg.distill-a-string"),
    case(lambda: training(image_hw=0), ValueError, "train_cfg.image_hw " + SIZE,
         id="train_cfg.image_hw-zero"),
    case(lambda: training(image_hw=(64, -64)), ValueError, "train_cfg.image_hw " + SIZE,
         id="train_cfg.image_hw-negative"),
    case(lambda: training(image_hw="64x64"), ValueError, "train_cfg.image_hw " + SIZE,
         id="train_cfg.image_hw-string"),
    case(lambda: DistillConfig.from_dict(dict(mode="self")), ValueError,
         "distill.mode must be one of ('inplace', 'teacher'), got 'self'", id="distill.mode"),
    case(lambda: DistillConfig.from_dict(dict(distance="l1")), ValueError,
         "distill.distance must be one of ('kl', 'mse'), got 'l1'", id="distill.distance"),
    case(lambda: DistillConfig.from_dict(dict(weight=-1)), ValueError,
         "distill.weight must be a non-negative number, got -1", id="distill.weight-negative"),
    case(lambda: DistillConfig.from_dict(dict(weight=math.nan)), ValueError,
         "distill.weight must be a non-negative number, got nan", id="distill.weight-nan"),
    case(lambda: DistillConfig.from_dict(dict(task_weight="1")), ValueError,
         "distill.task_weight must be a non-negative number, got '1'",
         id="distill.task_weight-string"),
    case(lambda: DistillConfig.from_dict(dict(temperature=0)), ValueError,
         "distill.temperature must be positive, got 0", id="distill.temperature-zero"),
    case(lambda: DistillConfig.from_dict(dict(module="")), ValueError,
         "distill.module must name a submodule of the model, e.g. 'decode_head', got ''",
         id="distill.module-empty"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher")), ValueError,
         "distill.mode='teacher' needs teacher=dict(config=..., checkpoint=...[, choice=...]), "
         "got None", id="distill.teacher-missing"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher", teacher=dict(config="a.py"))),
         ValueError, "needs teacher=dict(config=..., checkpoint=...", id="distill.teacher-partial"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher", teacher="a.py")), ValueError,
         "needs teacher=dict(config=..., checkpoint=...", id="distill.teacher-a-string"),
    case(lambda: DistillConfig.from_dict(dict(choice_weights=dict(p4=-1))), ValueError,
         "distill.choice_weights must map choice ids to non-negative numbers",
         id="distill.choice_weights-negative"),
    case(lambda: DistillConfig.from_dict(dict(init_student=True)), ValueError,
         "distill.teacher and distill.init_student apply to mode 'teacher'",
         id="distill.init_student-inplace"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher", teacher=dict(config="a",
                                                                           checkpoint="b"),
                                              teacher_choice="p8")), ValueError,
         "distill.teacher_choice applies to mode 'inplace'", id="distill.teacher_choice-teacher"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher", teacher=dict(config="a",
                                                                           checkpoint="b"),
                                              teacher_only_iters=100)), ValueError,
         "distill.teacher_only_iters applies to mode 'inplace'",
         id="distill.teacher_only_iters-teacher"),
    case(lambda: DistillConfig.from_dict(dict(teacher_only_iters=-1)), ValueError,
         "distill.teacher_only_iters must be a whole number of iterations >= 0, got -1",
         id="distill.teacher_only_iters-negative"),
    case(lambda: DistillConfig.from_dict(dict(teacher_only_iters=0.5)), ValueError,
         "distill.teacher_only_iters must be a whole number of iterations >= 0, got 0.5",
         id="distill.teacher_only_iters-fraction"),
    case(lambda: DistillConfig.from_dict(dict(mode="teacher", teacher=dict(config="a",
                                                                           checkpoint="b"),
                                              skip_idle_teacher=True)), ValueError,
         "distill.skip_idle_teacher applies to mode 'inplace'",
         id="distill.skip_idle_teacher-teacher"),
    case(lambda: DistillConfig.from_dict(dict(skip_idle_teacher="yes")), ValueError,
         "distill.skip_idle_teacher must be True or False, got 'yes'",
         id="distill.skip_idle_teacher-not-bool"),
    case(lambda: DistillConfig.from_dict(dict(tau=2)), ValueError,
         "unknown distill keys tau; allowed: mode, module, distance", id="distill-unknown-key"),
    case(lambda: inplace_plan(teacher_choice="p7"), ValueError,
         f"unknown choice 'p7'; available: {ALL_IDS}", id="distill.teacher_choice-unknown"),
    # ------------------------------------------------------------ multi-budget loops
    case(lambda: multi_budget_loop(choices=5), ValueError, CHOICES, "got 5",
         id="loop.choices-a-number"),
    case(lambda: multi_budget_loop(choices=None), ValueError, CHOICES, "got None",
         id="loop.choices-none"),
    case(lambda: multi_budget_loop(choices=[]), ValueError,
         "no choice given; use 'all', 'pareto' or ids such as p8,p16", id="loop.choices-empty"),
    case(lambda: multi_budget_loop(choices=" , "), ValueError, "no choice given",
         id="loop.choices-blank"),
    case(lambda: multi_budget_loop(budgets="5,ten"), ValueError, BUDGETS, "got 'ten'",
         id="loop.budgets-not-a-number"),
    case(lambda: multi_budget_loop(budgets=[-1]), ValueError, BUDGETS, "got -1",
         id="loop.budgets-negative"),
    case(lambda: multi_budget_loop(budgets=0), ValueError, BUDGETS, "got 0",
         id="loop.budgets-zero"),
    case(lambda: multi_budget_loop(budgets=[]), ValueError, BUDGETS, "got []",
         id="loop.budgets-empty"),
    case(lambda: multi_budget_loop(budgets=math.nan), ValueError, BUDGETS, "got nan",
         id="loop.budgets-nan"),
    case(lambda: multi_budget_loop(budgets="inf"), ValueError, BUDGETS, "got 'inf'",
         id="loop.budgets-infinite"),
    case(lambda: multi_budget_loop(budgets=True), ValueError, BUDGETS, "got True",
         id="loop.budgets-bool"),
    case(lambda: multi_budget_loop(budgets=[None]), ValueError, BUDGETS, "got None",
         id="loop.budgets-none-inside"),
    case(lambda: multi_budget_loop(rule="bigger"), ValueError,
         "rule must be one of greater, less, got 'bigger'", id="loop.rule-unknown"),
    case(lambda: multi_budget_loop(summary=1), ValueError,
         "summary must be largest or mean or a choice id, got 1", id="loop.summary-a-number"),
    case(lambda: multi_budget_loop(metric=["mIoU"]), ValueError,
         "metric must be a metric name such as 'mIoU', got ['mIoU']", id="loop.metric-a-list"),
    case(lambda: multi_budget_loop(plot_metrics="mIoU"), ValueError,
         "plot_metrics must be a list of metric names such as 'mIoU', got 'mIoU'",
         id="loop.plot_metrics-a-string"),
    case(lambda: multi_budget_loop(plot_metrics=[1]), ValueError,
         "plot_metrics must be a list of metric names such as 'mIoU', got [1]",
         id="loop.plot_metrics-numbers"),
    case(lambda: multi_budget_loop(image_hw=(0, 64)), ValueError, "image_hw " + SIZE,
         id="loop.image_hw-zero"),
    case(lambda: select_choices(SPACE, "p7,p16"), ValueError,
         "unknown choice(s) p7; available: p32 (1 GFLOPs), p24 (2 GFLOPs)",
         id="loop.choices-unknown-id"),
    case(lambda: select_choices(SPACE, budgets=[0.5]), ValueError,
         "budget 0.5 GFLOPs is below the cheapest choice; available: p32 (1 GFLOPs)",
         id="loop.budgets-below-the-cheapest"),
    # ------------------------------------------------------------ tools
    case(lambda: tool("train.py", CONFIG, "--resume", "/no/such/iter_4.pth"), ToolError,
         "error: --resume: checkpoint not found: /no/such/iter_4.pth", id="train-resume-missing"),
    case(lambda: tool("train.py", CONFIG, "--cfg-options", "trian_cfg.max_iters=3"), ToolError,
         "--cfg-options sets unknown config keys: trian_cfg", id="train-cfg-options-unknown-key"),
    case(lambda: tool("train.py", CONFIG, "--cfg-options", "train_cfg.sampler.weights=[1,"),
         ToolError, "error: argument --cfg-options: 'train_cfg.sampler.weights=[1,': brackets "
         "do not balance", id="train-cfg-options-unbalanced-brackets"),
    case(lambda: tool("train.py", CONFIG, "--cfg-options", "train_cfg.max_iters"), ToolError,
         "error: argument --cfg-options: 'train_cfg.max_iters' is not KEY=VALUE",
         id="train-cfg-options-without-a-value"),
    case(lambda: tool("get_flops.py", CONFIG, "--cfg-options", "model..depth=2"), ToolError,
         "error: argument --cfg-options: 'model..depth=2' is not KEY=VALUE with a dotted key",
         id="get_flops-cfg-options-empty-key-part"),
    case(lambda: tool("train.py", str(BASELINE_CONFIG), "--auto-scale-lr"), ToolError,
         "--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...)",
         id="train-auto-scale-lr-without-base"),
    case(lambda: tool("test.py", CONFIG, CONFIG, "--choices", " , "), ToolError,
         "error: no choice given; use 'all', 'pareto' or ids", id="test-choices-empty"),
    case(lambda: tool("test.py", CONFIG, CONFIG, "--budgets", "5,ten"), ToolError,
         "error: " + BUDGETS, "got 'ten'", id="test-budgets-not-a-number"),
    case(lambda: tool("test.py", CONFIG, CONFIG, "--budgets", "0"), ToolError,
         "error: " + BUDGETS, "got '0'", id="test-budgets-zero"),
    case(lambda: tool("get_flops.py", CONFIG, "--shape", "0", "64"), ToolError,
         "error: --shape H W " + SIZE, id="get_flops-shape-zero"),
    case(lambda: tool("export.py", CONFIG, CONFIG, "--choice", "p8", "--shape", "-64"),
         ToolError, "error: --shape " + SIZE, "got (-64, -64)", id="export-shape-negative"),
    case(lambda: tool("export.py", CONFIG, CONFIG, "--choice", "p8", "--shape", "1", "2",
                      "3"), ToolError, "error: --shape takes H or H W, got [1, 2, 3]",
         id="export-shape-three-values"),
    case(lambda: tool("export.py", CONFIG, CONFIG, "--choice", "p8", "--format", "tflite"),
         ToolError, "error: argument --format: invalid choice: 'tflite' (choose from",
         id="export-format-unknown"),
]


@pytest.mark.parametrize("build, error, needles", CASES)
def test_a_bad_setting_is_refused_naming_the_key_and_what_is_allowed(build, error, needles):
    with pytest.raises(error) as raised:
        build()
    assert type(raised.value) is error  # not a subclass that slipped through
    for needle in needles:
        assert needle in str(raised.value)
