"""The controller's decision is the most accurate option whose p95 plus the queue's wait fits the
time left, and a refusal exactly when none does: checked against a brute-force reference over
random spaces, plus the cases that matter by name."""
import random

import pytest

from flexseg.serving.controller import Backlog, Option, by_quality, decide

OPTIONS = [Option("p16", 10.0, 10.0), Option("p8", 20.0, 45.0), Option("p4", 50.0, 35.0)]


def reference(options, time_left, wait, at_most=None):
    """Every fitting option, the best by quality (ties: faster), written independently."""
    ceiling = {o.id: o.p95_ms for o in options}.get(at_most, float("inf"))
    fitting = [o for o in options if o.p95_ms <= ceiling and wait + o.p95_ms <= time_left]
    if not fitting:
        return None
    best = max(o.quality for o in fitting)
    return min((o for o in fitting if o.quality == best), key=lambda o: o.p95_ms).id


def test_most_accurate_fitting_choice_by_name():
    assert decide(OPTIONS, 100).choice == "p8"  # p4 fits but is worse and slower
    assert decide(OPTIONS, 19.9).choice == "p16"
    assert decide(OPTIONS, 20.0).choice == "p8"
    assert decide(OPTIONS, 9.9).choice is None


def test_queue_wait_counts_against_the_deadline():
    assert decide(OPTIONS, 45, Backlog(queued_ms=30)).choice == "p16"
    assert decide(OPTIONS, 50, Backlog(running_left_ms=20, queued_ms=10)).choice == "p8"
    assert decide(OPTIONS, 39, Backlog(running_left_ms=20, queued_ms=10)).choice is None
    # A run that outlived its estimate leaves no negative wait.
    assert Backlog(running_left_ms=-5, queued_ms=3).wait_ms == 3


def test_refusal_says_what_the_fastest_needs():
    decision = decide(OPTIONS, 12, Backlog(queued_ms=5))
    assert decision.choice is None
    assert "p16" in decision.reason and "10.0 ms" in decision.reason and "5.0 ms" in decision.reason


def test_a_queued_request_may_only_move_to_a_cheaper_choice():
    assert decide(OPTIONS, 1000, at_most="p16").choice == "p16"
    assert decide(OPTIONS, 1000, at_most="p4").choice == "p8"
    assert decide(OPTIONS, 15, at_most="p8").choice == "p16"


def test_matches_brute_force_on_random_spaces():
    generator = random.Random(0)
    for _ in range(500):
        options = [Option(f"c{i}", generator.uniform(1, 50), generator.choice([1.0, 2.0, 3.0]))
                   for i in range(generator.randint(1, 6))]
        time_left, wait = generator.uniform(-5, 120), generator.uniform(0, 60)
        at_most = generator.choice([None, *[o.id for o in options]])
        got = decide(options, time_left, Backlog(queued_ms=wait), at_most).choice
        assert got == reference(options, time_left, wait, at_most)


def test_more_time_never_gives_a_worse_choice():
    quality = {o.id: o.quality for o in OPTIONS}
    previous = None
    for time_left in range(0, 120):
        choice = decide(OPTIONS, time_left).choice
        if previous is not None:
            assert choice is not None and quality[choice] >= quality[previous]
        previous = choice or previous


def test_ranking_and_empty_space():
    assert [o.id for o in by_quality(OPTIONS)] == ["p8", "p4", "p16"]
    with pytest.raises(ValueError, match="at least one choice"):
        decide([], 10)


def test_under_overload_cheap_choices_that_waste_model_time_are_withheld():
    """p8 delivers 2.25 quality per ms, p16 1.0 and p4 0.7: at 50 requests/s p8 alone keeps
    the server busy, so from there a request only p16 could still make is refused."""
    assert decide(OPTIONS, 15, arrival_rate=40).choice == "p16"
    refused = decide(OPTIONS, 15, arrival_rate=60)
    assert refused.choice is None and "overloaded" in refused.reason
    assert decide(OPTIONS, 100, arrival_rate=60).choice == "p8"
    assert decide(OPTIONS, 100, arrival_rate=60, at_most="p16").choice is None


def test_under_overload_an_efficient_cheap_choice_stays():
    efficient = [Option("p16", 10.0, 40.0), Option("p8", 20.0, 45.0)]  # 4.0 vs 2.25 per ms
    assert decide(efficient, 15, arrival_rate=500).choice == "p16"
    assert decide(efficient, 30, arrival_rate=500).choice == "p8"


def test_overload_uses_the_median_and_ignores_lower_is_better_metrics():
    # By median, p8 (10 ms) serves 100/s: 60/s is no overload; by p95 (20 ms) it would be.
    with_medians = [Option("p16", 10.0, 10.0, 5.0), Option("p8", 20.0, 45.0, 10.0)]
    assert decide(with_medians, 15, arrival_rate=60).choice == "p16"
    assert decide(with_medians, 15, arrival_rate=120).choice is None
    lower_is_better = [Option("p16", 10.0, -3.0), Option("p8", 20.0, -1.0)]
    assert decide(lower_is_better, 15, arrival_rate=1000).choice == "p16"
