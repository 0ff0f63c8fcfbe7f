"""Interleaved rounds pair the sides fairly; a measurement in its own process reports its
failure."""
import pytest

from benchmarks.fresh import run_fresh
from benchmarks.timing import interleaved, median_ratio


def test_each_round_runs_every_side_once_starting_one_further_along():
    calls = []
    runs = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = interleaved(runs, rounds=4, warmup=1)
    assert calls == list("abc" "abc" "bca" "cab" "abc")  # warm-up, then rotated rounds
    assert {name: len(values) for name, values in times.items()} == dict(a=4, b=4, c=4)


def test_the_ratio_pairs_sides_within_each_round():
    # Each round is twice as slow as the one before; within a round a takes half of b.
    times = dict(a=[1.0, 2.0, 4.0], b=[2.0, 4.0, 8.0])
    assert median_ratio(times, "a", "b") == 0.5


def _fails(message: str) -> dict:
    raise ValueError(message)


def test_a_failure_in_its_own_process_comes_back_with_its_message():
    with pytest.raises(RuntimeError, match="_fails failed in its own process: "
                                           "ValueError: no such variant"):
        run_fresh(_fails, dict(message="no such variant"), clean=False)
