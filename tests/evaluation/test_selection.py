"""Budget and choice selection: the rules, and clear errors listing what is available."""
import pytest

from flexseg.budget.space import BudgetEntry, BudgetSpace
from flexseg.evaluation import ChoiceResult, MultiBudgetResults, select_choices
from flexseg.models.flexivit import PatchChoice

GFLOPS = {"p32": 1.0, "p16": 4.0, "p12": 7.0, "p8": 16.0}


@pytest.fixture
def space() -> BudgetSpace:
    return BudgetSpace([BudgetEntry(PatchChoice((int(c[1:]),) * 2), gflops, gflops / 2, 1000)
                        for c, gflops in GFLOPS.items()], (224, 224))


def previous(values: dict[str, float], metric: str = "mIoU",
             higher_is_better: bool = True) -> MultiBudgetResults:
    rows = [ChoiceResult(c, GFLOPS[c], GFLOPS[c] / 2, 1000, {metric: v, "other": v}, 1.0)
            for c, v in values.items()]
    return MultiBudgetResults((224, 224), metric, higher_is_better, rows)


def ids(selection) -> list[str]:
    return [entry.id for entry in selection.entries]


def test_all_and_explicit_ids_sorted_by_gflops(space):
    assert ids(select_choices(space, "all")) == ["p32", "p16", "p12", "p8"]
    assert ids(select_choices(space, "p8,p32")) == ["p32", "p8"]
    assert ids(select_choices(space, ["p16"])) == ["p16"]


def test_budgets_without_results_pick_the_most_expensive_that_fits(space):
    selection = select_choices(space, budgets="5,7,100")
    assert selection.budget_picks == {5.0: "p16", 7.0: "p12", 100.0: "p8"}
    assert ids(selection) == ["p16", "p12", "p8"]


def test_budgets_with_results_pick_the_best_that_fits(space):
    # p12 is worse than the cheaper p16: under 10 GFLOPs the best is p16, not p12.
    results = previous({"p32": 20.0, "p16": 30.0, "p12": 25.0, "p8": 35.0})
    selection = select_choices(space, budgets=[10, 20], previous=results)
    assert selection.budget_picks == {10.0: "p16", 20.0: "p8"}
    assert selection.budgets_of("p16") == [10.0]


def test_best_respects_lower_is_better_and_another_metric(space):
    errors = previous({"p32": 0.5, "p16": 0.3, "p12": 0.4}, metric="rmse",
                      higher_is_better=False)
    assert select_choices(space, budgets=[8], previous=errors).budget_picks == {8.0: "p16"}
    # The same values ranked as "other", higher is better by name: p32 wins.
    picks = select_choices(space, budgets=[8], previous=errors, metric="other").budget_picks
    assert picks == {8.0: "p32"}


def test_budgets_choose_among_the_requested_choices(space):
    selection = select_choices(space, "p32,p12", budgets=[10])
    assert selection.budget_picks == {10.0: "p12"}


def test_pareto_uses_the_previous_front(space):
    results = previous({"p32": 20.0, "p16": 30.0, "p12": 25.0, "p8": 35.0})
    assert ids(select_choices(space, "pareto", previous=results)) == ["p32", "p16", "p8"]


def test_pareto_without_results_falls_back_to_all_with_a_warning(space):
    with pytest.warns(UserWarning, match="previous evaluation"):
        assert ids(select_choices(space, "pareto")) == space.ids()

def test_results_of_another_model_are_refused(space):
    foreign = previous({"p32": 1.0})
    foreign.choices.append(ChoiceResult("p10", 9.0, 4.5, 1, {"mIoU": 2.0}, 1.0))
    with pytest.raises(ValueError, match=r"does not match the model.*p10.*available: p32"):
        select_choices(space, budgets=[5], previous=foreign)


def test_results_without_the_ranking_metric_are_refused(space):
    with pytest.raises(ValueError, match="no 'mAcc' for p32"):
        select_choices(space, budgets=[5], previous=previous({"p32": 1.0}), metric="mAcc")
