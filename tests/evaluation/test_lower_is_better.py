"""Metrics that are better when lower (RMSE, AbsRel): from a hand-made results file, the front,
the 'pareto' choices, the budget picks and the plot follow each metric's own direction."""
import json
import struct

import pytest

from flexseg.budget.space import BudgetEntry, BudgetSpace
from flexseg.evaluation import load_results, select_choices
from flexseg.evaluation.plot import plot_pareto
from flexseg.models.flexivit import PatchChoice

# choice: (GFLOPs, rmse, d1). By RMSE, p12 is worse than the cheaper p16 and p4 worse than the
# cheaper p8; by d1, p8 is worse than the cheaper p12.
ROWS = {"p16": (1.0, 0.70, 0.70), "p12": (2.0, 0.80, 0.75), "p8": (4.0, 0.50, 0.72),
        "p4": (8.0, 0.55, 0.80)}


@pytest.fixture
def results_file(tmp_path):
    rows = [dict(id=c, gflops=g, backbone_gflops=g / 2, params=1000, images_per_s=1.0,
                 metrics={"rmse": rmse, "d1": d1}) for c, (g, rmse, d1) in ROWS.items()]
    path = tmp_path / "depth.json"
    path.write_text(json.dumps(dict(image_hw=[64, 64], main_metric="rmse",
                                    higher_is_better=False, choices=rows)))
    return path


@pytest.fixture
def space() -> BudgetSpace:
    return BudgetSpace([BudgetEntry(PatchChoice((int(c[1:]),) * 2), g, g / 2, 1000)
                        for c, (g, _, _) in ROWS.items()], (64, 64))


def test_each_metric_has_its_own_front(results_file):
    results = load_results(results_file)
    assert results.front("rmse") == ["p16", "p8"]  # read as higher-is-better: p16, p12
    assert results.front("d1") == ["p16", "p12", "p4"]


def test_pareto_choices_and_budget_picks_minimise_rmse(results_file, space):
    previous = load_results(results_file)
    assert [e.id for e in select_choices(space, "pareto", previous=previous).entries] == \
        ["p16", "p8"]
    picks = select_choices(space, budgets=[3, 10], previous=previous).budget_picks
    assert picks == {3.0: "p16", 10.0: "p8"}  # not the dearer p12, p4 (higher RMSE)
    by_d1 = select_choices(space, budgets=[3, 10], previous=previous, metric="d1")
    assert by_d1.budget_picks == {3.0: "p12", 10.0: "p4"}


def _png_width(path) -> int:
    return struct.unpack(">I", path.read_bytes()[16:20])[0]


def test_plot_draws_a_panel_per_metric(results_file, tmp_path):
    results = load_results(results_file)
    plot_pareto(results, tmp_path / "one.png")
    plot_pareto(results, tmp_path / "two.png", metrics=["rmse", "d1"])
    assert _png_width(tmp_path / "two.png") == pytest.approx(
        2 * _png_width(tmp_path / "one.png"), rel=0.02)
    with pytest.raises(ValueError, match="cannot plot abs_rel: the results hold rmse, d1"):
        plot_pareto(results, tmp_path / "bad.png", metrics=["abs_rel"])
