"""The model worker: admissions see the work already queued, a request whose wait ran long is
refused before it runs (never run late), the machine's slowdown is learnt from runs, a failing
model answers an error and the worker goes on, stopping drains the queue."""
import threading
import time

import pytest

import flexseg.serving.worker as worker_module
from flexseg.serving.model import controller_options
from flexseg.serving.worker import ModelWorker
from tests.serving.conftest import FakeModel


class Collect:
    """Outcomes by job name, with an event per job."""

    def __init__(self):
        self.outcomes, self.events = {}, {}

    def __call__(self, name):
        self.events[name] = threading.Event()

        def done(outcome):
            self.outcomes[name] = outcome
            self.events[name].set()
        return done

    def wait(self, name, timeout=10):
        assert self.events[name].wait(timeout), f"{name} never finished"
        return self.outcomes[name]


def test_admission_counts_the_queue(monkeypatch, fake_model):
    """With a frozen clock and no thread running, 1000 ms fit 20 runs of p8 (p95 48 ms), then
    one p16 (24 ms: 984 ms), then nothing."""
    now = [100.0]
    monkeypatch.setattr(worker_module.time, "monotonic", lambda: now[0])
    worker = ModelWorker(fake_model, controller_options(fake_model), margin_ms=0)
    decisions = [worker.submit(None, now[0] + 1.0, lambda outcome: None)[0].choice
                 for _ in range(23)]
    assert decisions == ["p8"] * 20 + ["p16"] + [None] * 2
    assert worker.backlog().wait_ms == pytest.approx(20 * 48 + 24)
    assert worker.admit(now[0] + 1.0).choice is None
    assert worker.admit(now[0] + 2.0).choice == "p8"


def test_a_request_that_can_no_longer_make_it_is_refused_not_run():
    model = FakeModel()
    worker = ModelWorker(model, controller_options(model), margin_ms=0)
    worker.start(rounds=1)
    model.runs.clear()
    model.slow = 5.0  # the machine got five times slower than profiled
    collect = Collect()
    _, first = worker.submit("a", time.monotonic() + 2.0, collect("first"))
    decision, second = worker.submit("b", time.monotonic() + 0.15, collect("second"))
    assert first.choice == "p8" and decision.choice == "p8"  # 48 + 48 ms fit 150 ms on paper
    assert collect.wait("first").choice == "p8"
    refused = collect.wait("second")
    assert refused.choice is None and refused.labels is None
    assert "deadline cannot be met" in refused.reason
    assert model.runs == ["p8"]  # the refused request never ran
    # The slow run was learnt: p8 is now expected to take about 5x its profiled median.
    assert worker.slowdown() > 4
    assert dict((o.id, o.p95_ms) for o in worker.options)["p8"] > 4 * 40
    worker.stop(10)


def test_a_failing_model_answers_an_error_and_the_worker_goes_on():
    model = FakeModel()
    worker = ModelWorker(model, controller_options(model), margin_ms=0)
    worker.start(rounds=1)
    model.fail_on = "p8"
    collect = Collect()
    worker.submit("x", time.monotonic() + 5, collect("bad"))
    failed = collect.wait("bad")
    assert failed.labels is None and failed.reason == \
        "the model failed: RuntimeError: out of memory"
    model.fail_on = None
    worker.submit("x", time.monotonic() + 5, collect("good"))
    assert collect.wait("good").labels is not None
    worker.stop(10)


def test_cancelled_requests_are_skipped_and_stop_drains():
    model = FakeModel()
    worker = ModelWorker(model, controller_options(model), margin_ms=0)
    worker.start(rounds=1)
    model.runs.clear()
    collect = Collect()
    jobs = [worker.submit(str(i), time.monotonic() + 5, collect(i))[1] for i in range(4)]
    jobs[2].cancelled = True  # its client went away
    worker.stop(10)
    assert not worker._thread.is_alive()
    assert [collect.wait(i).choice for i in (0, 1, 3)] == ["p8"] * 3
    assert 2 not in collect.outcomes and len(model.runs) == 3
    decision, job = worker.submit("late", time.monotonic() + 5, collect("after"))
    assert job is None and decision.reason == "the server is shutting down"


def test_calibration_is_per_choice_once_a_choice_has_enough_runs(fake_model):
    """A busy machine slowed p16 (20 ms profiled) to 100 ms but not p8: p16's expected p95
    rises to 100 ms, p8's stays at its profile; p4, never run, borrows every choice's runs."""
    worker = ModelWorker(fake_model, controller_options(fake_model), margin_ms=0)
    for _ in range(25):
        worker._calibrate("p8", 40.0)
        worker._calibrate("p16", 100.0)
    expected = {option.id: option for option in worker.options}
    assert expected["p16"].p95_ms == pytest.approx(100.0)
    assert expected["p16"].median_ms == pytest.approx(100.0)
    assert expected["p8"].p95_ms == pytest.approx(48.0)  # the profile's p95
    assert expected["p8"].median_ms == pytest.approx(40.0)
    assert expected["p4"].p95_ms == pytest.approx(80.0 * 5.0)  # pooled p95 ratio: 5
