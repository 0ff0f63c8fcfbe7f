"""Training loops that train a sampled sub-network of the flexible backbone every iteration.

    train_cfg = dict(
        type='BudgetIterBasedTrainLoop',   # or 'BudgetEpochBasedTrainLoop' with max_epochs
        max_iters=80000, val_interval=8000,
        sampler=dict(strategy='ros', gap_gflops=10.0, seed=None, min_gflops=None,
                     max_gflops=None, num_choices=1),  # flexseg.budget.samplers
        distill=None,                      # several sub-networks per step with distillation
        image_hw=None,                     # GFLOPs measured at (H, W); None: training size
        eval_choice=None)                  # choice id outside training steps; None: largest
    log_processor = dict(type='BudgetLogProcessor', by_epoch=False)  # choice id in log lines

- ``distill`` (``flexseg.budget.distill``) turns on a distillation recipe:

  - ``dict(mode='inplace', teacher_choice=None, teacher_only_iters=0)``: every iteration
    first trains the teacher choice (default: the largest of the restricted space) on the task
    loss, then the sampled choices (drawn from the rest of the space; ``sampler.num_choices``
    of them) on the task loss plus the distance to the teacher choice's detached output; the
    first ``teacher_only_iters`` iterations train the teacher choice alone, so the students
    start from a trained teacher, as with teacher distillation's ``init_student``, in one run;
    ``skip_idle_teacher=True`` leaves the teacher out of iterations whose drawn choices all
    have distillation weight 0 (they would not use its output), so they train alone;
  - ``dict(mode='teacher', teacher=dict(config=..., checkpoint=..., choice=None),
    init_student=False)``: a frozen model gives the target of every sampled choice;
    ``init_student`` starts the trained model from its weights (fresh runs only);
  - with ``sampler=dict(strategy='supervit')``, ``dict(mode='inplace', task_weight=0.0)`` is
    SuperViT's step: its two keep-1 choices train on the task loss, and the keep-k choice after
    each is distilled (KL alone) toward it;
  - shared keys: ``module='decode_head'`` (whose output is distilled), ``distance='kl'``
    (or 'mse'), ``weight=1.0``, ``task_weight=1.0`` (of the students), ``temperature=1.0``.
- ``sampler.seed=None`` uses the run's randomness seed (restored on resume), so the draws of a
  resumed run continue those of the uninterrupted one.
- ``image_hw=None`` takes ``model.data_preprocessor.size``, else ``crop_size``.
- Outside training steps (validation during training, and after training) the backbone stays at
  ``eval_choice``: the largest choice of the (restricted) space unless an id is given.
- Every iteration logs the trained GFLOPs as the scalar ``budget/gflops`` (summed over the
  sandwich's sub-networks) and the choice id(s) as runtime info ``budget/choice``.
- DDP: the tools wrap distributed models in ``BudgetDistributedDataParallel``, whose
  ``find_unused_parameters`` and ``static_graph`` follow the parameters each choice leaves
  unused (``flexseg.budget.ddp``); the loop refuses to start with settings that would fail
  mid-run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.nn.parallel import DistributedDataParallel

from flexseg.layers.checks import check_size
from flexseg.models.contract import FlexibleBackbone, find_flexible

from .log_processor import CHOICE_INFO, BudgetLogProcessor
from .distill import DistillConfig, Distiller, FrozenTeacher
from .samplers import ChoiceSampler, build_sampler, ros_groups
from .space import BudgetEntry, BudgetSpace, build_budget_space, default_image_hw, format_table
from .train_step import budget_train_step

GFLOPS_SCALAR = "train/budget/gflops"
SAMPLER_KEYS = ("strategy", "seed", "gap_gflops", "weights", "num_random", "min_gflops",
                "max_gflops", "num_choices", "ros_grouping")


def check_ddp_settings(model: nn.Module, backbone: FlexibleBackbone, space: BudgetSpace,
                       one_backward_per_step: bool) -> None:
    """DDP settings that would fail mid-run: no search for unused parameters while a choice
    leaves some unused (a hang or an error at the next step), a static graph while the choices
    leave different parameters unused or a step runs several backward passes."""
    if not isinstance(model, DistributedDataParallel):
        return
    unused = {entry.id: backbone.unused_parameters(entry.choice) for entry in space}
    fix = "(model_wrapper_cfg; 'auto' chooses: flexseg.budget.ddp)"
    if model.static_graph and not one_backward_per_step:
        raise ValueError(f"DDP's static_graph=True cannot accumulate the several sub-networks "
                         f"of a step (no_sync); set static_graph=False {fix}")
    if model.static_graph and len(set(unused.values())) > 1:
        raise ValueError(f"the choices leave different parameters unused; DDP needs "
                         f"static_graph=False and find_unused_parameters=True {fix}")
    if not model.static_graph and not model.find_unused_parameters and any(unused.values()):
        counts = {choice: len(names) for choice, names in unused.items() if names}
        raise ValueError(f"choices leave backbone parameters unused ({counts}); DDP needs "
                         f"find_unused_parameters=True {fix}")


@dataclass(frozen=True)
class TrainingPlan:
    """What each iteration trains: the in-place distillation teacher choice (if any), then the
    sampler's draw (none during the teacher's first ``teacher_only_iters`` iterations); a pure
    function of the iteration, like the sampler, so later draws do not depend on the warm-up."""

    sampler: ChoiceSampler
    teacher_entry: BudgetEntry | None = None
    teacher_only_iters: int = 0
    untaught_ids: frozenset[str] = frozenset()  # drawn alone, without the teacher

    @property
    def targets(self) -> tuple[int | None, ...] | None:
        """In-place distillation targets of a step (``train_step.in_place_targets``); None:
        the first entry teaches the rest."""
        return None if self.teacher_entry is not None else self.sampler.targets

    def entries(self, iteration: int) -> tuple[BudgetEntry, ...]:
        if self.teacher_entry is None:
            return self.sampler.draw(iteration)
        if iteration < self.teacher_only_iters:
            return (self.teacher_entry,)
        drawn = self.sampler.draw(iteration)
        if all(entry.id in self.untaught_ids for entry in drawn):
            return drawn
        return (self.teacher_entry, *drawn)


def plan_training(space: BudgetSpace, sampler_cfg: dict, distill: DistillConfig | None,
                  seed: int) -> TrainingPlan:
    """The plan for ``space``: in-place distillation trains its teacher choice (default: the
    largest within the sampler's GFLOPs limits) first and samples from the other choices."""
    options = dict(sampler_cfg)
    own_seed = options.pop("seed", None)
    seed = seed if own_seed is None else own_seed
    own_teachers = options.get("strategy") == "supervit"
    if own_teachers and distill is not None and (
            distill.mode != "inplace" or distill.teacher_choice or distill.teacher_only_iters):
        raise ValueError("strategy 'supervit' names its own teachers (its keep-1 sub-networks): "
                         "use distill=dict(mode='inplace') without teacher_choice and "
                         "teacher_only_iters")
    if distill is None or distill.mode != "inplace" or own_teachers:
        return TrainingPlan(build_sampler(space, seed=seed, **options))
    teacher = space.get(distill.teacher_choice) if distill.teacher_choice else \
        space.largest(options.get("min_gflops"), options.get("max_gflops"))
    untaught = frozenset(entry.id for entry in space if distill.student_weight(entry.id) == 0) \
        if distill.skip_idle_teacher else frozenset()
    return TrainingPlan(build_sampler(space.without(teacher.id), seed=seed, **options), teacher,
                        distill.teacher_only_iters, untaught)


class BudgetTraining:
    """What the budget loops share: the space, the sampler, activation and logging."""

    def __init__(self, runner, sampler: dict | None, image_hw: Sequence[int] | None,
                 eval_choice: str | None, distill: dict | None = None) -> None:
        self.runner = runner
        for name, value, example in (("sampler", sampler, "dict(strategy='uniform')"),
                                     ("distill", distill, "dict(mode='inplace')")):
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(f"train_cfg.{name} must be a dict such as {example} or None, "
                                 f"got {value!r}")
        self.distill_cfg = DistillConfig.from_dict(distill) if distill is not None else None
        self.sampler_cfg = dict(sampler or {})
        unknown = sorted(set(self.sampler_cfg) - set(SAMPLER_KEYS))
        if unknown:
            raise ValueError(f"unknown sampler keys {', '.join(unknown)}; allowed: "
                             f"{', '.join(SAMPLER_KEYS)}")
        self.image_hw = check_size("train_cfg.image_hw", image_hw) if image_hw is not None \
            else None
        self.eval_choice = eval_choice
        self.backbone: FlexibleBackbone | None = None
        self.plan: TrainingPlan | None = None
        self.eval_entry: BudgetEntry | None = None
        self.distiller: Distiller | None = None

    def setup(self) -> None:
        """Measure the space and build the sampler; runs after a resume restored the seed."""
        runner = self.runner
        self.backbone = find_flexible(runner.model)
        image_hw = self.image_hw or default_image_hw(runner.cfg)
        space = build_budget_space(runner.model, image_hw)
        self.plan, self.eval_entry = self.resolve(space, runner.seed)
        plan = self.plan
        check_ddp_settings(runner.model, self.backbone, space, plan.teacher_entry is None
                           and len(plan.sampler.draw(0)) == 1)
        if self.distill_cfg is not None:
            self.distiller = self._build_distiller()
        self._log_setup()
        self.backbone.activate(self.eval_entry.choice)

    def resolve(self, space: BudgetSpace, seed: int) -> tuple[TrainingPlan, BudgetEntry]:
        """The training plan over ``space`` and the entry of the eval choice (default: the
        largest within the sampler's GFLOPs limits); ValueError for settings that do not fit."""
        plan = plan_training(space, self.sampler_cfg, self.distill_cfg, seed)
        eval_entry = space.get(self.eval_choice) if self.eval_choice is not None else \
            space.largest(self.sampler_cfg.get("min_gflops"), self.sampler_cfg.get("max_gflops"))
        return plan, eval_entry

    def _build_distiller(self) -> Distiller:
        config, runner = self.distill_cfg, self.runner
        teacher = None
        if config.mode == "teacher":
            device = next(runner.model.parameters()).device
            teacher = FrozenTeacher(config.teacher["config"], config.teacher["checkpoint"],
                                    config.module, config.teacher.get("choice"), device)
            if config.init_student:
                if runner.iter > 0 or runner.cfg.get("load_from"):
                    print_log("distillation: init_student skipped (the run resumed or loaded "
                              "weights with load_from)", logger="current")
                else:
                    teacher.init_student(runner.model)
        return Distiller(config, runner.model, teacher)

    def _log_setup(self) -> None:
        sampler = self.plan.sampler
        lines = [f"budget sampling: {type(sampler).__name__} {self.sampler_cfg}, seed "
                 f"{sampler.seed}, eval choice {self.eval_entry.id}", format_table(sampler.space)]
        if self.distill_cfg is not None:
            if self.plan.teacher_entry:
                teacher = f"teacher choice {self.plan.teacher_entry.id}"
            elif self.distill_cfg.teacher:
                teacher = f"frozen teacher {self.distill_cfg.teacher['checkpoint']}"
            else:
                teacher = f"teachers by position {self.plan.targets}"
            lines.append(f"distillation: {self.distill_cfg}; {teacher}")
        gap = self.sampler_cfg.get("gap_gflops")
        if gap is not None:
            groups = ros_groups(sampler.space, gap,
                                self.sampler_cfg.get("ros_grouping") or "greedy")
            lines.append("ROS groups: " + "  ".join(
                "[" + " ".join(entry.id for entry in group) + "]" for group in groups))
        if not isinstance(self.runner.log_processor, BudgetLogProcessor):
            lines.append("log_processor=dict(type='BudgetLogProcessor') names the trained "
                         "choice in each log line")
        print_log("\n".join(lines), logger="current")

    def run_iter(self, batch_idx: int, data_batch, iteration: int) -> None:
        """Draw for ``iteration``, log, train, and return the backbone to the eval choice."""
        runner = self.runner
        entries = self.plan.entries(iteration)
        runner.message_hub.update_scalar(GFLOPS_SCALAR, sum(entry.gflops for entry in entries))
        runner.message_hub.update_info(CHOICE_INFO, "+".join(entry.id for entry in entries))
        self.backbone.activate(entries[0].choice)
        runner.call_hook("before_train_iter", batch_idx=batch_idx, data_batch=data_batch)
        outputs = budget_train_step(runner.model, data_batch, runner.optim_wrapper,
                                    self.backbone, [entry.choice for entry in entries],
                                    self.distiller, self.plan.targets)
        runner.call_hook("after_train_iter", batch_idx=batch_idx, data_batch=data_batch,
                         outputs=outputs)
        self.backbone.activate(self.eval_entry.choice)


@LOOPS.register_module()
class BudgetIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` training a sampled choice each iteration (module doc)."""

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals: list | None = None,
                 sampler: dict | None = None, image_hw: Sequence[int] | None = None,
                 eval_choice: str | None = None, distill: dict | None = None) -> None:
        super().__init__(runner, dataloader, max_iters, val_begin, val_interval,
                         dynamic_intervals)
        self.budget = BudgetTraining(runner, sampler, image_hw, eval_choice, distill)

    def run(self) -> nn.Module:
        self.budget.setup()
        return super().run()

    def run_iter(self, data_batch) -> None:
        self.budget.run_iter(self._iter, data_batch, self._iter)
        self._iter += 1


@LOOPS.register_module()
class BudgetEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` training a sampled choice each iteration (module doc); draws
    follow the global iteration count, which a resume restores."""

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals: list | None = None,
                 sampler: dict | None = None, image_hw: Sequence[int] | None = None,
                 eval_choice: str | None = None, distill: dict | None = None) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval,
                         dynamic_intervals)
        self.budget = BudgetTraining(runner, sampler, image_hw, eval_choice, distill)

    def run(self) -> nn.Module:
        self.budget.setup()
        return super().run()

    def run_iter(self, idx: int, data_batch) -> None:
        self.budget.run_iter(idx, data_batch, self._iter)
        self._iter += 1
