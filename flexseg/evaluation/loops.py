"""Validation/test loops that evaluate several compute budgets in one pass over the data.

Each batch is loaded (decoded, transformed) once; then, for every requested choice, the
backbone is switched to it and ``val_step``/``test_step`` runs on the batch, feeding that
choice's own evaluator (built from the config's evaluator, so any
mmengine metric works: mmseg ``IoUMetric``, mmdet ``CocoMetric``, depth metrics). The
backbone's active choice is restored afterwards.

Returned (and logged) metrics: every metric of every choice as ``<id>/<name>`` (e.g.
``p16/mIoU``), plus plain names (``mIoU``) holding the summary used for checkpoint selection:
by default the most expensive evaluated choice's metrics (``summary='largest'``); ``'mean'``
averages each metric over the choices; a choice id uses that choice. Hooks (logging,
visualisation) see that same choice's outputs; ``batch_outputs`` holds the current batch's
outputs under every choice (``BudgetVisualizationHook`` draws them side by side).

The batch is preprocessed once and shared: models write predictions into the data samples they
are given, so every choice predicts into its own shallow copies of the preprocessed samples and
the batch stays as loaded (the tests check that deferred metrics see each choice's own
predictions).

Usage in a config::

    val_cfg = dict(type='MultiBudgetValLoop', choices='all', budgets=None)
    test_cfg = dict(type='MultiBudgetTestLoop', choices='pareto', results='prev.json')

Outputs (main process): ``multibudget_<val|test>.{json,csv,md,png}`` in ``out_dir`` (default:
the work dir); the Markdown table is also logged.
"""
from __future__ import annotations

import copy
import logging
import time
from typing import Sequence

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, LOOPS
from mmengine.runner.base_loop import BaseLoop
from torch.utils.data import DataLoader

from flexseg.budget.space import BudgetEntry, build_budget_space, default_image_hw
from flexseg.compat.amp import autocast_on, check_amp_dtype, float32_predictions
from flexseg.compat.mmengine_private import run_forward
from flexseg.compat.random_state import preserved_random_state
from flexseg.datasets.unreadable import CONFIG_KEY as SKIP_UNREADABLE, readable_subset
from flexseg.evaluation.destinations import give_each_choice_its_destination
from flexseg.evaluation.reference import load_reference_points
from flexseg.evaluation.report import to_markdown, write_reports
from flexseg.evaluation.results import (ChoiceResult, MultiBudgetResults, default_main_metric,
                                        is_higher_better, load_results, numeric_metrics)
from flexseg.evaluation.selection import ALL, Selection, describe, parse_budgets, parse_choices
from flexseg.evaluation.selection import select_choices
from flexseg.layers.checks import check_list, check_size
from flexseg.models.contract import find_flexible, unwrap
from flexseg.models.intercept import serve_outputs
from flexseg.models.prefix_tree import TreeStats

RULES = {"greater": True, "less": False}
SUMMARIES = ("largest", "mean")


class MultiBudgetLoop(BaseLoop):
    """Shared by the val and test loops; ``stage`` names the hooks and the step method.

    Args:
        choices: 'all', 'pareto' (needs ``results``), or ids (list or 'p8,p16').
        budgets: GFLOPs (list or '5,10'); each picks the best requested choice that fits.
        results: a previous evaluation's JSON; ranks choices for 'pareto' and budgets.
        reference: JSON/CSV of separately trained baselines drawn on the plot.
        metric: the metric to rank and plot (default: mIoU, COCO bbox mAP, d1 ... or the
            first).
        rule: 'greater' or 'less' is better (default: from the metric's name).
        plot_metrics: metrics drawn in the plot, one panel each with its own front (default:
            ``metric``), e.g. ['rmse', 'd1'] for depth.
        summary: what the plain metric names hold: 'largest', 'mean' or a choice id.
        out_dir: where the reports go (default: the work dir).
        image_hw: image size the GFLOPs are counted at (default: the training size, as in
            the budget space of training logs; else the first batch's first image).
        fp16: run the steps under autocast (mixed precision).
        amp_dtype: autocast's dtype, 'float16' or 'bfloat16' (default: float16 on CUDA,
            bfloat16 on the CPU).
    """

    stage = "val"

    def __init__(self, runner, dataloader: DataLoader | dict,
                 evaluator: Evaluator | dict | list, choices: str | Sequence[str] = ALL,
                 budgets: str | float | Sequence[float] | None = None,
                 results: str | None = None, reference: str | None = None,
                 metric: str | None = None, rule: str | None = None,
                 plot_metrics: Sequence[str] | None = None, summary: str = "largest",
                 out_dir: str | None = None, image_hw: Sequence[int] | None = None,
                 fp16: bool = False, amp_dtype: str | None = None) -> None:
        # Checked before the dataloader is built: a model without a flexible backbone is the
        # likeliest mistake, and the cheapest to report.
        self.backbone = find_flexible(runner.model)
        if rule is not None and rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
        _check_names(summary=summary, metric=metric, plot_metrics=plot_metrics)
        self.skipped: list[str] = []
        if runner.cfg.get(SKIP_UNREADABLE, False) and isinstance(dataloader, dict):
            dataloader = self._without_unreadable(dataloader)
        super().__init__(runner, dataloader)
        self.evaluator_cfg = evaluator
        self.choices = parse_choices(choices)
        self.budgets = parse_budgets(budgets)
        self.previous = load_results(results) if results else None
        self.reference = load_reference_points(reference) if reference else []
        self.metric = metric
        self.higher_is_better = RULES[rule] if rule else None
        self.plot_metrics = list(plot_metrics) if plot_metrics else None
        self.summary = summary
        self.out_dir = out_dir or runner.work_dir
        self.image_hw = check_size("image_hw", image_hw) if image_hw is not None else None
        self.fp16 = fp16
        check_amp_dtype(amp_dtype)
        self.amp_dtype = amp_dtype
        self.dataset_meta = getattr(self.dataloader.dataset, "metainfo", None)
        if self.dataset_meta is not None:
            runner.visualizer.dataset_meta = self.dataset_meta
        self.selection: Selection | None = None
        self.evaluators: list[Evaluator] = []
        # The current batch's outputs under every evaluated choice, for visualisation hooks.
        self.batch_outputs: list[tuple[BudgetEntry, list]] = []
        self._timing = torch.zeros(0, 2, dtype=torch.float64)
        self._share_prefixes = True  # until a batch shows the backbone sees other inputs

    # ----------------------------------------------------------------- set-up
    def _without_unreadable(self, dataloader: dict) -> dict:
        """The dataloader config with its dataset built and stripped of unreadable samples
        (``skip_unreadable_samples``); the count is logged now and with the results."""
        dataset = dataloader["dataset"]
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        total = len(dataset)
        self.skipped = readable_subset(dataset)
        if self.skipped:
            print_log(f"multi-budget {self.stage}: skipping {len(self.skipped)} of {total} "
                      f"samples whose files cannot be read: {' | '.join(self.skipped)}",
                      logger="current", level=logging.WARNING)
        return {**dataloader, "dataset": dataset}

    def _build_evaluator(self, choice_id: str) -> Evaluator:
        """The choice's own copy of the evaluator; metrics writing files get their own
        destination (``destinations``)."""
        if isinstance(self.evaluator_cfg, Evaluator):
            evaluator = copy.deepcopy(self.evaluator_cfg)
        else:
            evaluator = self.runner.build_evaluator(copy.deepcopy(self.evaluator_cfg))
        evaluator.dataset_meta = self.dataset_meta
        give_each_choice_its_destination(evaluator, choice_id)
        return evaluator

    def _resolve_image_hw(self, data_batch: dict) -> tuple[int, int]:
        if self.image_hw is not None:
            return self.image_hw
        try:
            return default_image_hw(self.runner.cfg)
        except ValueError:
            return tuple(int(s) for s in data_batch["inputs"][0].shape[-2:])

    def _prepare(self, data_batch: dict) -> None:
        """Select the choices (GFLOPs may need the image size of the first batch)."""
        self.image_hw = self._resolve_image_hw(data_batch)
        space = build_budget_space(unwrap(self.runner.model), self.image_hw)
        self.selection = select_choices(space, self.choices, self.budgets, self.previous,
                                        self.metric, self.higher_is_better)
        entries = self.selection.entries
        if self.summary not in SUMMARIES and self.summary not in [e.id for e in entries]:
            raise ValueError(f"summary must be {' or '.join(SUMMARIES)} or an evaluated "
                             f"choice id; evaluated: {describe(entries)}")
        self.evaluators = [self._build_evaluator(entry.id) for entry in entries]
        picks = "".join(f"; budget {b:g} GFLOPs -> {choice_id}"
                        for b, choice_id in self.selection.budget_picks.items())
        # The GFLOPs are those of an image of image_hw, which need not be the size of the
        # images evaluated (e.g. training crops smaller than the validation images).
        print_log(f"multi-budget {self.stage}: {describe(entries)}, GFLOPs at "
                  f"{self.image_hw[0]}x{self.image_hw[1]}{picks}", logger="current")

    def _start_pass(self, first_batch: dict) -> None:
        if self.selection is None:
            self._prepare(first_batch)
        # Per choice: images and seconds spent in its steps during this pass.
        self._timing = torch.zeros(len(self.evaluators), 2, dtype=torch.float64)
        self._tree_stats = TreeStats()

    def _primary(self) -> BudgetEntry:
        """The choice whose outputs the hooks see (and whose metrics are the summary)."""
        entries = self.selection.entries
        if self.summary in SUMMARIES:
            return entries[-1]
        return next(e for e in entries if e.id == self.summary)

    # ----------------------------------------------------------------- the pass
    def run(self) -> dict:
        """One pass; training's random generators leave it as they entered (a run resumed
        from a checkpoint saved just before a validation draws what the original drew)."""
        self.runner.call_hook(f"before_{self.stage}")
        self.runner.call_hook(f"before_{self.stage}_epoch")
        self.runner.model.eval()
        previous_choice = self.backbone.active_choice
        try:
            with preserved_random_state():
                for idx, data_batch in enumerate(self.dataloader):
                    if idx == 0:
                        self._start_pass(data_batch)
                    self.run_iter(idx, data_batch)
        finally:
            self.backbone.activate(previous_choice)
        if self.selection is None:
            raise ValueError(f"the {self.stage} dataset is empty")
        metrics = self._finish()
        self.runner.call_hook(f"after_{self.stage}_epoch", metrics=metrics)
        self.runner.call_hook(f"after_{self.stage}")
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """Every choice on the batch, preprocessed once. The backbone computes its outputs for
        all choices first where they share work (``FlexibleBackbone.forward_choices``), choice
        after choice in its own order; each choice's prediction then runs with the backbone
        serving that choice's outputs. A choice's time is the backbone work done for it
        (prefixes it reuses are not counted again) plus its own prediction; the shared
        preprocessing is counted for none. A model that calls its backbone on anything but the
        whole batch (slide inference) gets it computed as usual, and later batches skip the
        shared pass; a model with its own step (test-time augmentation) runs that step per
        choice."""
        self.runner.call_hook(f"before_{self.stage}_iter", batch_idx=idx, data_batch=data_batch)
        entries = self.selection.entries
        position = {entry.choice: index for index, entry in enumerate(entries)}
        produced = [None] * len(entries)
        device = next(unwrap(self.runner.model).parameters()).device.type
        with autocast_on(device, self.fp16, self.amp_dtype):
            data = self._preprocess(data_batch)
            if data is not None and self._share_prefixes:
                features = self.backbone.forward_choices(data["inputs"],
                                                         [e.choice for e in entries],
                                                         self._tree_stats)
            else:
                features = iter([(e.choice, None) for e in entries])
            while True:
                _synchronize()
                start = time.perf_counter()
                choice, maps = next(features, (None, None))
                if choice is None:
                    break
                self.backbone.activate(choice)
                inputs = None if data is None else data["inputs"]
                with serve_outputs(self.backbone, inputs, maps) as served:
                    outputs = self._predict(data_batch, data)
                if self.fp16:
                    outputs = float32_predictions(outputs)
                self._share_prefixes &= served["whole_batch"]
                _synchronize()
                index = position[choice]
                self._timing[index] += torch.tensor(
                    [len(outputs), time.perf_counter() - start], dtype=torch.float64)
                self.evaluators[index].process(data_samples=outputs, data_batch=data_batch)
                produced[index] = outputs
        self.batch_outputs = list(zip(entries, produced))
        hook_outputs = produced[entries.index(self._primary())]
        self.runner.call_hook(f"after_{self.stage}_iter", batch_idx=idx, data_batch=data_batch,
                              outputs=hook_outputs)

    def _preprocess(self, data_batch: dict) -> dict | None:
        """The batch through the model's data preprocessor, once for every choice; None for a
        model whose step is not mmengine's preprocess-then-predict (it runs its own step)."""
        model = unwrap(self.runner.model)
        step = f"{self.stage}_step"
        if getattr(type(model), step) is not getattr(BaseModel, step):
            return None
        return model.data_preprocessor(data_batch, False)

    def _predict(self, data_batch: dict, data: dict | None) -> list:
        """One choice's predictions. Models write them into the data samples they are given,
        so each choice predicts into its own shallow copies and the batch stays as loaded."""
        if data is None:
            return getattr(self.runner.model, f"{self.stage}_step")(data_batch)
        samples = data.get("data_samples")
        if isinstance(samples, list):
            data = {**data, "data_samples": [sample.new() for sample in samples]}
        return run_forward(unwrap(self.runner.model), data, mode="predict")

    # ----------------------------------------------------------------- results
    def _finish(self) -> dict:
        size = len(self.dataloader.dataset)
        raw = [evaluator.evaluate(size) for evaluator in self.evaluators]
        timing = self._timing.clone()
        all_reduce(timing, op="sum")
        results = self._results(raw, timing)
        if is_main_process():
            paths = write_reports(results, self.out_dir, f"multibudget_{self.stage}",
                                  self.reference, self.plot_metrics)
            skipped = (f"; {len(self.skipped)} unreadable samples skipped, metrics cover the "
                       f"other {size}" if self.skipped else "")
            print_log(f"multi-budget {self.stage} results ({paths['json'].parent}/"
                      f"multibudget_{self.stage}.{{json,csv,md,png}}{skipped}):\n"
                      f"{to_markdown(results)}", logger="current")
            stats = self._tree_stats
            if stats.ops_separately:
                print_log(f"shared prefixes: {stats.ops_run} backbone operations instead of "
                          f"{stats.ops_separately} ({stats.ops_run / stats.ops_separately:.0%}),"
                          f" at most {stats.peak_states} intermediate states alive",
                          logger="current")
        return self._logged_metrics(raw)

    def _results(self, raw: list[dict], timing: torch.Tensor) -> MultiBudgetResults:
        entries = self.selection.entries
        numeric = [numeric_metrics(metrics) for metrics in raw]
        metric = self.metric or default_main_metric(list(numeric[0]))
        missing = [e.id for e, m in zip(entries, numeric) if metric not in m]
        if missing:
            raise ValueError(f"metric {metric!r} is missing for {', '.join(missing)}; the "
                             f"evaluator returns {', '.join(numeric[0])}")
        higher = (self.higher_is_better if self.higher_is_better is not None
                  else is_higher_better(metric))
        rows = [ChoiceResult(id=e.id, gflops=e.gflops, backbone_gflops=e.backbone_gflops,
                             params=e.params, metrics=m,
                             images_per_s=float(count / seconds) if seconds > 0 else 0.0,
                             budgets=self.selection.budgets_of(e.id))
                for e, m, (count, seconds) in zip(entries, numeric, timing.tolist())]
        results = MultiBudgetResults(self.image_hw, metric, higher, rows)
        on_front = set(results.front(metric))
        for row in rows:
            row.pareto = row.id in on_front
        return results

    def _logged_metrics(self, raw: list[dict]) -> dict:
        entries = self.selection.entries
        if self.summary == "mean":
            numeric = [numeric_metrics(metrics) for metrics in raw]
            shared = [name for name in numeric[0] if all(name in m for m in numeric)]
            summary = {name: sum(m[name] for m in numeric) / len(numeric) for name in shared}
        else:
            summary = dict(raw[[e.id for e in entries].index(self._primary().id)])
        per_choice = {f"{e.id}/{name}": value
                      for e, metrics in zip(entries, raw) for name, value in metrics.items()}
        return {**summary, **per_choice}


def _check_names(summary: object, metric: object, plot_metrics: object) -> None:
    """The loop's name arguments: a summary rule or choice id, metric names."""
    if not isinstance(summary, str):
        raise ValueError(f"summary must be {' or '.join(SUMMARIES)} or a choice id, got "
                         f"{summary!r}")
    if metric is not None and not isinstance(metric, str):
        raise ValueError(f"metric must be a metric name such as 'mIoU', got {metric!r}")
    if plot_metrics is not None and not all(
            isinstance(name, str) for name in check_list("plot_metrics", plot_metrics,
                                                         "metric names such as 'mIoU'")):
        raise ValueError(f"plot_metrics must be a list of metric names such as 'mIoU', got "
                         f"{plot_metrics!r}")


def _synchronize() -> None:
    """Wait for queued GPU work so the timer measures the forward itself."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@LOOPS.register_module()
class MultiBudgetValLoop(MultiBudgetLoop):
    """Validation at several budgets in one pass (see the module docstring)."""

    stage = "val"


@LOOPS.register_module()
class MultiBudgetTestLoop(MultiBudgetLoop):
    """Testing at several budgets in one pass (see the module docstring)."""

    stage = "test"
