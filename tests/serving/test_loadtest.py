"""The load test's parts: Poisson arrivals (rate, determinism, bounds), the summary's arithmetic
on hand-made replies, and a short open-loop run against a fake-model server showing the point
of the controller under overload: cheap choices answer more on time when they are worth
their model time, and are withheld when they are not."""
import statistics

import pytest

from flexseg.serving.app import create_app
from flexseg.serving.loadtest import Reply, poisson_arrivals, run_load, summarize
from tests.serving.conftest import FAKE_CHOICES, FakeModel, running
from tests.serving.test_app import png


def test_poisson_arrivals():
    arrivals = poisson_arrivals(200, 20, seed=1)
    assert arrivals == poisson_arrivals(200, 20, seed=1) != poisson_arrivals(200, 20, seed=2)
    assert len(arrivals) == pytest.approx(4000, rel=0.05)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # Exponential gaps: mean and standard deviation both 1/rate.
    assert statistics.mean(gaps) == pytest.approx(1 / 200, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(1 / 200, rel=0.08)
    assert all(0 < a < 20 for a in arrivals) and arrivals == sorted(arrivals)
    assert len(poisson_arrivals(200, 20, max_requests=50)) == 50
    with pytest.raises(ValueError):
        poisson_arrivals(0, 1)


def test_summary_counts_late_and_refused_as_wrong():
    replies = [Reply(200, "p8", 30, 50), Reply(200, "p16", 45, 50),
               Reply(200, "p8", 60, 50),   # answered late (client-side): wrong
               Reply(503, None, 2, 50, "arrival"), Reply(0, None, 5000, 50),
               Reply(503, None, 40, 50, "queue")]
    summary = summarize(replies, {"p8": 45.0, "p16": 10.0})
    assert summary["requests"] == 6
    assert summary["slo_attainment"] == pytest.approx(2 / 6)
    assert summary["late"] == pytest.approx(1 / 6)
    assert summary["refused"] == pytest.approx(2 / 6)
    assert summary["other"] == pytest.approx(1 / 6)
    assert summary["effective_metric"] == pytest.approx((45 + 10) / 6)
    assert summary["mix"] == {"p16": pytest.approx(1 / 6), "p8": pytest.approx(1 / 6)}
    assert summary["refusal_p99_ms"] == 2  # refusals at arrival only
    assert summarize(replies[:3], {"p8": 45.0, "p16": 10.0})["refusal_p99_ms"] is None


def load_run(choices, keep=None, rate=50.0):
    """Summary of 1.5 s of Poisson arrivals at ``rate`` per second (twice p8's capacity of
    25 per second at its 40 ms) against a fake-model server, deadline 300 ms."""
    model = FakeModel(choices)
    metric = {choice.id: choice.metric for choice in model.choices}
    if keep:
        model.choices = [c for c in model.choices if c.id == keep]
    with running(create_app(model, slo_ms=300, margin_ms=5)) as port:
        replies = run_load(port, png(), rate=rate, duration_s=1.5, deadline_ms=300, seed=3,
                           max_requests=200)
    summary = summarize(replies, metric)
    # Next to nothing answered late: of the ~60 requests, a clean-clone run of the whole suite
    # once measured 2 late (3%), its other worker loading the cores; one was all 0.02 allowed.
    assert summary["late"] <= 0.05, summary
    return summary


def test_overload_with_an_efficient_cheap_choice():
    """p16 (40 mIoU in 20 ms) is worth more per ms than p8 (45 in 40 ms): at twice p8's
    capacity the server fixed to p8 refuses about half, the adaptive one answers with p16
    as well and delivers more."""
    choices = [("p16", 0.1, 20.0, 24.0, 40.0), *FAKE_CHOICES[1:]]
    adaptive, fixed = load_run(choices), load_run(choices, "p8")
    assert fixed["refused"] > 0.2
    assert adaptive["slo_attainment"] > fixed["slo_attainment"] + 0.08, (adaptive, fixed)
    assert adaptive["effective_metric"] > fixed["effective_metric"] * 1.1, (adaptive, fixed)
    assert set(adaptive["mix"]) >= {"p16", "p8"}


def test_overload_with_a_wasteful_cheap_choice():
    """p16 (10 mIoU in 20 ms) is worth less per ms than p8: answering with it under
    overload would take model time from better answers, so the adaptive server answers
    like the fixed p8 one, mostly with p8, and delivers at least about as much."""
    adaptive, fixed = load_run(FAKE_CHOICES), load_run(FAKE_CHOICES, "p8")
    assert adaptive["mix"].get("p8", 0) >= 4 * adaptive["mix"].get("p16", 0)
    assert adaptive["effective_metric"] >= 0.9 * fixed["effective_metric"]
