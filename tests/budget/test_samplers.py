"""Sampling strategies: their distributions, limits, determinism in (seed, iteration)."""
from collections import Counter

import numpy as np
import pytest

from flexseg.budget import build_sampler, ros_groups

from .conftest import make_space

DRAWS = 6000
# Upper 0.1% points of the chi-square distribution by degrees of freedom.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52}


def _chi_square(counts: Counter, expected: dict[str, float], draws: int) -> float:
    return sum((counts[key] - draws * p) ** 2 / (draws * p) for key, p in expected.items())


def _frequencies_match(counts: Counter, expected: dict[str, float], draws: int) -> bool:
    assert set(counts) <= set(expected)
    return _chi_square(counts, expected, draws) < CHI2_999[len(expected) - 1]


def _draw_ids(sampler, draws: int = DRAWS) -> Counter:
    return Counter(entry.id for i in range(draws) for entry in sampler.draw(i))


@pytest.fixture
def space():
    # Crowded at the cheap end: four choices within 3 GFLOPs, then two far apart.
    return make_space({32: 1.0, 24: 2.0, 20: 2.5, 16: 4.0, 12: 9.0, 8: 30.0})


def test_uniform_draws_every_choice_equally_often(space):
    counts = _draw_ids(build_sampler(space, "uniform", seed=1))
    assert _frequencies_match(counts, {i: 1 / 6 for i in space.ids()}, DRAWS)


def test_ros_bins_are_fixed_width_bins_from_the_cheapest_choice(space):
    groups = ros_groups(space, 5.0, "bins")  # bins [1, 6), [6, 11), ..., [26, 31)
    assert [[e.id for e in group] for group in groups] == [
        ["p32", "p24", "p20", "p16"], ["p12"], ["p8"]]
    edge = make_space({16: 1.0, 12: 6.0})  # 6.0 opens the second bin
    assert len(ros_groups(edge, 5.0, "bins")) == 2
    # Bins, not chains: neighbours 3 GFLOPs apart still split at the bin edge.
    chain = make_space({16: 1.0, 12: 4.0, 8: 7.0})
    assert [[e.id for e in g] for g in ros_groups(chain, 5.0, "bins")] == [["p16", "p12"],
                                                                          ["p8"]]
    assert len(ros_groups(space, 100.0, "bins")) == 1


def test_ros_default_is_sn_netv2_greedy_grouping():
    """SN-Netv2's rule, worked by hand (gap 10): the reference starts at 0, so 3 and 8 share
    the first group; 12 is more than 10 above 0 and opens a group with reference 12; 14 joins
    it; 25 is 13 above 12 and opens the next; 26 joins; 40 opens the last. Fixed-width bins
    from the cheapest (3) would cut the same costs as [3 8 12] [14] [25 26] [40]."""
    costs = make_space({32: 3.0, 24: 8.0, 20: 12.0, 16: 14.0, 12: 25.0, 10: 26.0, 8: 40.0})
    ids = lambda groups: [[e.id for e in g] for g in groups]  # noqa: E731
    assert ids(ros_groups(costs, 10.0)) == [["p32", "p24"], ["p20", "p16"], ["p12", "p10"],
                                            ["p8"]]
    assert ids(ros_groups(costs, 10.0, "bins")) == [["p32", "p24", "p20"], ["p16"],
                                                    ["p12", "p10"], ["p8"]]
    # A choice exactly gap above the reference stays in its group (the rule is "more than").
    assert ids(ros_groups(make_space({16: 4.0, 12: 10.0, 8: 20.0}), 10.0)) == [
        ["p16", "p12"], ["p8"]]
    # The first group is measured from 0, not from the cheapest choice.
    assert ids(ros_groups(make_space({16: 4.0, 12: 12.0}), 10.0)) == [["p16"], ["p12"]]
    assert ids(ros_groups(make_space({16: 14.0, 12: 22.0}), 10.0)) == [["p16", "p12"]]
    with pytest.raises(ValueError, match="ros_grouping must be one of greedy, bins"):
        ros_groups(costs, 10.0, "fixed")


def test_ros_draws_groups_uniformly_then_choices_uniformly_inside(space):
    counts = _draw_ids(build_sampler(space, "ros", seed=2, gap_gflops=5.0, ros_grouping="bins"))
    group_of = {"p32": "cheap", "p24": "cheap", "p20": "cheap", "p16": "cheap",
                "p12": "middle", "p8": "dear"}
    group_counts = Counter()
    for choice_id, count in counts.items():
        group_counts[group_of[choice_id]] += count
    assert _frequencies_match(group_counts, {g: 1 / 3 for g in ("cheap", "middle", "dear")},
                              DRAWS)
    cheap = Counter({i: counts[i] for i in ("p32", "p24", "p20", "p16")})
    assert _frequencies_match(cheap, {i: 1 / 4 for i in cheap}, sum(cheap.values()))
    # Uniform sampling would give the cheap group 4/6 of the draws, not 1/3.
    assert not _frequencies_match(group_counts, {"cheap": 4 / 6, "middle": 1 / 6,
                                                 "dear": 1 / 6}, DRAWS)


def test_weighted_draws_follow_the_weights(space):
    weights = {"p32": 0.0, "p24": 1.0, "p20": 1.0, "p16": 2.0, "p12": 4.0, "p8": 0.0}
    counts = _draw_ids(build_sampler(space, "weighted", seed=3, weights=weights))
    assert counts["p32"] == counts["p8"] == 0
    expected = {i: w / 8 for i, w in weights.items() if w}
    assert _frequencies_match(counts, expected, DRAWS)


def test_limits_restrict_every_strategy(space):
    for strategy, options in [("uniform", {}), ("ros", dict(gap_gflops=1.0)),
                              ("sandwich", {}),
                              ("weighted", dict(weights={"p24": 1, "p20": 1, "p16": 1}))]:
        sampler = build_sampler(space, strategy, seed=4, min_gflops=2.0, max_gflops=4.0,
                                **options)
        assert sampler.space.ids() == ["p24", "p20", "p16"]  # limits are inclusive
        assert set(_draw_ids(sampler, 300)) == {"p24", "p20", "p16"}


def test_sandwich_trains_largest_smallest_and_distinct_random_middles(space):
    sampler = build_sampler(space, "sandwich", seed=5, num_random=2)
    middles = Counter()
    for iteration in range(DRAWS):
        drawn = [entry.id for entry in sampler.draw(iteration)]
        assert drawn[:2] == ["p8", "p32"]
        assert len(drawn) == 4 and len(set(drawn)) == 4
        middles.update(drawn[2:])
    assert _frequencies_match(middles, {i: 1 / 4 for i in ("p24", "p20", "p16", "p12")},
                              2 * DRAWS)
    everything = build_sampler(space, "sandwich", seed=5, num_random=10).draw(0)
    assert sorted(e.id for e in everything) == sorted(space.ids())
    assert [e.id for e in build_sampler(space, "sandwich", max_gflops=1.0).draw(0)] == ["p32"]
    assert build_sampler(space, "sandwich").num_random == 2


@pytest.mark.parametrize("strategy,options", [
    ("uniform", {}), ("ros", dict(gap_gflops=5.0)), ("sandwich", dict(num_random=1)),
    ("weighted", dict(weights={"p32": 1, "p24": 2, "p20": 3, "p16": 1, "p12": 1, "p8": 1}))])
def test_draws_are_a_pure_function_of_seed_and_iteration(space, strategy, options):
    first = build_sampler(space, strategy, seed=7, **options)
    second = build_sampler(space, strategy, seed=7, **options)
    iterations = range(200)
    forward = [first.draw(i) for i in iterations]
    # Another instance, asked in reverse order and twice: the same answers.
    backward = [second.draw(i) for i in reversed(iterations)][::-1]
    assert forward == backward == [second.draw(i) for i in iterations]
    other_seed = build_sampler(space, strategy, seed=8, **options)
    assert forward != [other_seed.draw(i) for i in iterations]
    assert len({tuple(e.id for e in drawn) for drawn in forward}) > 1

def test_several_choices_per_step_are_distinct_and_follow_the_strategy(space):
    sampler = build_sampler(space, "uniform", seed=9, num_choices=2)
    counts = Counter()
    for iteration in range(DRAWS):
        drawn = [entry.id for entry in sampler.draw(iteration)]
        assert len(drawn) == 2 and drawn[0] != drawn[1]
        counts.update(drawn)
    assert _frequencies_match(counts, {i: 1 / 6 for i in space.ids()}, 2 * DRAWS)
    # Zero weight is never drawn, whatever the number of choices per step.
    weights = {"p32": 0.0, "p24": 1.0, "p20": 1.0, "p16": 1.0, "p12": 1.0, "p8": 1.0}
    weighted = build_sampler(space, "weighted", seed=9, weights=weights, num_choices=3)
    assert "p32" not in _draw_ids(weighted, 500)
    # One choice per step keeps the draws of runs made before num_choices existed.
    assert [build_sampler(space, "uniform", seed=9).draw(i) for i in range(50)] == \
        [(space[int(np.random.default_rng([9, i]).choice(6, p=np.full(6, 1 / 6)))],)
         for i in range(50)]
