"""SuperViT's training step (its deit/engine.py) as a recipe of the shared mechanism:
strategy 'supervit' draws (full, keep 1), (full, k), (r, keep 1), (r, k') and in-place
distillation pairs them, the keep-1 choices on the task loss, each keep-k choice on the KL to
the choice before it; one optimizer step; a resumed run continues the same draws and losses."""
import argparse
import copy

import pytest
import torch
from mmengine.runner import Runner

from flexseg.budget import BudgetEntry, BudgetSpace, build_sampler
from flexseg.budget.distill import DistillConfig, Distiller
from flexseg.budget.loop import plan_training
from flexseg.budget.train_step import DISTILL_LOG_KEY, accumulated_train_step, in_place_targets
from flexseg.cli import add_common_args, load_config
from flexseg.models import PatchChoice

from .conftest import build_segmentor
from .test_budget_loops import CONFIG, _records, _training
from .test_distill import _assert_sgd_update, _forward_with_logits, _hand_kl, _sgd, CountingSGD
from .test_train_step import _batch
from tests.conftest import quick_run_options

RESOLUTIONS = (1.0, 6 / 7, 5 / 7, 4 / 7)  # SuperViT's 224, 192, 160, 128 at patch 16
KEEP_RATES = (1.0, 0.7, 0.5)


def _space(patch_sizes=(16,), resolutions=RESOLUTIONS, keep_rates=KEEP_RATES) -> BudgetSpace:
    entries = []
    for patch in patch_sizes:
        for r in resolutions:
            for k in keep_rates:
                cost = (r / patch) ** 2 * k * 1e4
                entries.append(BudgetEntry(PatchChoice((patch, patch), k, r), gflops=cost,
                                           backbone_gflops=cost / 2, params=1))
    return BudgetSpace(entries, (224, 224))


def _factors(entry: BudgetEntry) -> tuple[float, float]:
    return entry.choice.resolution, entry.choice.keep_rate


def test_every_step_draws_the_four_sub_networks_of_supervit():
    sampler = build_sampler(_space(), "supervit", seed=7)
    draws = [[_factors(e) for e in sampler.draw(i)] for i in range(300)]
    for (full, keep), (smaller, one), (same, keep_small), first in \
            ((d[1], d[2], d[3], d[0]) for d in draws):
        assert first == (1.0, 1.0)
        assert full == 1.0 and keep in (0.7, 0.5)
        assert one == 1.0 and smaller in RESOLUTIONS[1:]
        assert same == smaller and keep_small in (0.7, 0.5)
    # Every smaller resolution and keep rate is drawn, k and k' independently of each other.
    assert {d[2][0] for d in draws} == set(RESOLUTIONS[1:])
    assert {(d[1][1], d[3][1]) for d in draws} == {(a, b) for a in (0.7, 0.5) for b in (0.7, 0.5)}
    # A pure function of (seed, iteration): drawn again in another order, the same; another
    # seed, another sequence.
    again = build_sampler(_space(), "supervit", seed=7)
    assert [again.draw(i) for i in reversed(range(300))][::-1] == \
        [sampler.draw(i) for i in range(300)]
    other = build_sampler(_space(), "supervit", seed=8)
    assert [other.draw(i) for i in range(300)] != [sampler.draw(i) for i in range(300)]
    assert sampler.targets == (None, 0, None, 2)


@pytest.mark.parametrize("space, message", [
    (_space(patch_sizes=(16, 8)), "varying only in resolution and keep rate"),
    (_space(keep_rates=(1.0,)), "at least two resolutions and two keep rates"),
    (_space(resolutions=(1.0,)), "at least two resolutions and two keep rates"),
], ids=["two patch sizes", "one keep rate", "one resolution"])
def test_a_space_that_is_not_resolution_by_keep_rate_is_refused(space, message):
    with pytest.raises(ValueError, match=message):
        build_sampler(space, "supervit")


def test_the_plan_pairs_its_own_teachers_and_refuses_a_fixed_teacher_choice():
    plan = plan_training(_space(), dict(strategy="supervit"),
                         DistillConfig(mode="inplace", task_weight=0.0), seed=0)
    assert plan.teacher_entry is None and plan.targets == (None, 0, None, 2)
    assert len(plan.entries(3)) == 4
    with pytest.raises(ValueError, match="names its own teachers"):
        plan_training(_space(), dict(strategy="supervit"),
                      DistillConfig(mode="inplace", teacher_choice="p16"), seed=0)
    with pytest.raises(ValueError, match="earlier one without a target"):
        in_place_targets(4, (None, 0, 1, 2))  # a student cannot teach


def test_each_keep_k_choice_is_distilled_toward_the_keep_1_choice_before_it():
    """The update equals hand-written SuperViT losses: task loss for (1,1) and (r,1), the KL
    alone (task weight 0) for (1,k) toward (1,1) and for (r,k') toward (r,1)."""
    segmentor = build_segmentor(resolutions=(1.0, 0.5), keep_points=(1,), keep_rates=(1.0, 0.5))
    choices = ["p8", "p8-k0.5", "p8-r0.5", "p8-r0.5-k0.5"]
    reference, default = copy.deepcopy(segmentor), copy.deepcopy(segmentor)
    reference.train()
    data = reference.data_preprocessor(_batch(), True)
    teachers = {}
    for index, choice in enumerate(choices):
        reference.backbone.activate(choice)
        task, logits = _forward_with_logits(reference, data)
        if index % 2 == 0:
            teachers[index] = logits.detach()
            task.backward()
        else:
            _hand_kl(logits, teachers[index - 1], 1.0).backward()

    segmentor.train()
    distiller = Distiller(DistillConfig(mode="inplace", task_weight=0.0), segmentor)
    log_vars = accumulated_train_step(segmentor, _batch(), _sgd(segmentor), segmentor.backbone,
                                      choices, distiller, targets=(None, 0, None, 2))
    _assert_sgd_update(segmentor, reference)
    assert CountingSGD.steps == 1 and log_vars[DISTILL_LOG_KEY] > 0

    # The pairing matters: with the default targets, (r, k') would follow (1, 1) instead.
    default.train()
    paired = dict(segmentor.named_parameters())
    accumulated_train_step(default, _batch(), _sgd(default), default.backbone, choices,
                           Distiller(DistillConfig(mode="inplace", task_weight=0.0), default))
    assert any(not torch.equal(p, paired[n]) for n, p in default.named_parameters())


SUPERVIT = ["model.backbone.patch_sizes=[8]", "model.backbone.resolutions=[1.0,0.75,0.5]",
            "model.backbone.keep_points=[1]", "model.backbone.keep_rates=[1.0,0.7,0.5]",
            "train_cfg.sampler.strategy=supervit", "train_cfg.distill.mode=inplace",
            "train_cfg.distill.task_weight=0.0"]


def _run(work_dir, small_digitseg, resume=None) -> None:
    """tools/train.py's option handling and resume, in this process (two training
    subprocesses would cost more than the training itself)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    add_common_args(parser)
    args = parser.parse_args([
        str(CONFIG), "--work-dir", str(work_dir), "--cfg-options",
        *quick_run_options(small_digitseg, max_iters=2), *SUPERVIT,
        "default_hooks.checkpoint.interval=1", "train_cfg.val_interval=100",
        "randomness.deterministic=False"])  # no process-wide deterministic-algorithms switch
    cfg = load_config(args)
    if resume is not None:
        cfg.resume, cfg.load_from = True, str(resume)
    Runner.from_cfg(cfg).train()


def test_the_supervit_step_resumes_with_the_same_sub_networks_and_losses(tmp_path,
                                                                         small_digitseg):
    _run(tmp_path / "full", small_digitseg)
    trained = _training(_records(tmp_path / "full"))
    sampler = build_sampler(_space(patch_sizes=(8,), resolutions=(1.0, 0.75, 0.5)), "supervit",
                            seed=0)
    assert [r["choice"] for r in trained] == \
        ["+".join(e.id for e in sampler.draw(i)) for i in range(2)]
    log = next((tmp_path / "full").glob("*/*.log")).read_text()
    assert "loss_distill" in log and "teachers by position (None, 0, None, 2)" in log
    _run(tmp_path / "resumed", small_digitseg, resume=tmp_path / "full" / "iter_1.pth")
    resumed = _training(_records(tmp_path / "resumed"))
    assert [r["iter"] for r in resumed] == [1]
    for original, again in zip(trained[1:], resumed, strict=True):
        assert again["choice"] == original["choice"]
        assert again["loss"] == pytest.approx(original["loss"], rel=1e-6, abs=0)
        assert again["checksum"] == pytest.approx(original["checksum"], rel=1e-9, abs=0)


def test_the_documented_supervit_settings_give_the_four_sub_networks():
    """docs/reproducing_papers.md's snippet on a small FlexiViT: the space is resolutions x
    keep rates and the 'supervit' sampler draws from it."""
    import re

    from flexseg.models import FlexiViT
    from tests.conftest import REPO

    page = (REPO / "docs/reproducing_papers.md").read_text()
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", page, re.S)
                   if "strategy='supervit'" in block)
    settings = {}
    exec(snippet, {}, settings)  # noqa: S102  (the page's own config lines)
    backbone = FlexiViT(img_size=64, patch_size=16, embed_dim=16, depth=12, num_heads=2,
                        **settings["model"]["backbone"])
    space = BudgetSpace([BudgetEntry(choice, gflops=float(i), backbone_gflops=float(i), params=1)
                         for i, choice in enumerate(backbone.space())], (224, 224))
    options = {k: v for k, v in settings["train_cfg"]["sampler"].items() if k != "_delete_"}
    sampler = build_sampler(space, **options)
    assert [_factors(e) for e in sampler.draw(0)][0] == (1.0, 1.0) and len(space) == 12
    assert DistillConfig.from_dict(settings["train_cfg"]["distill"]).task_weight == 0.0
