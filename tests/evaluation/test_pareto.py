"""The Pareto front keeps exactly the points no cheaper-or-equal, better-or-equal point beats."""
import math

from flexseg.evaluation import pareto_front


def test_front_of_hand_made_points():
    points = [(1.0, 10.0), (2.0, 9.0), (2.0, 12.0), (3.0, 12.0), (4.0, 15.0), (5.0, 14.0)]
    # (2, 9) is beaten by the cheaper (1, 10); (3, 12) ties (2, 12) on value but costs more;
    # (5, 14) is beaten by (4, 15).
    assert pareto_front(points) == [0, 2, 4]


def test_lower_is_better_flips_the_value_axis():
    errors = [(1.0, 0.5), (2.0, 0.6), (3.0, 0.3), (4.0, 0.3)]
    assert pareto_front(errors, higher_is_better=False) == [0, 2]


def test_front_is_ordered_by_cost_not_input_order():
    assert pareto_front([(4.0, 4.0), (1.0, 1.0), (2.0, 2.0)]) == [1, 2, 0]


def test_identical_points_are_both_kept():
    assert pareto_front([(1.0, 5.0), (1.0, 5.0), (2.0, 4.0)]) == [0, 1]


def test_nan_values_are_never_on_the_front_and_dominate_nothing():
    assert pareto_front([(1.0, math.nan), (2.0, 3.0), (3.0, 2.0)]) == [1]
