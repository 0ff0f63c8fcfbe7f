"""Latency timing leaves the model as it found it; Spearman's rho on known rankings."""
import pytest

from benchmarks.latency_rank import median_latencies_ms, spearman_rho
from flexseg.budget import build_budget_space
from tests.budget.conftest import build_segmentor


def test_every_choice_is_timed_and_the_model_is_left_as_it_was():
    tiny_segmentor = build_segmentor()
    space = build_budget_space(tiny_segmentor, (64, 64))
    tiny_segmentor.backbone.activate("p12")
    tiny_segmentor.train()
    latencies = median_latencies_ms(tiny_segmentor, space, batch_size=2, rounds=2, warmup=1)
    assert list(latencies) == space.ids()
    assert all(ms > 0 for ms in latencies.values())
    assert tiny_segmentor.backbone.active_choice.id == "p12"
    assert all(module.training for module in tiny_segmentor.modules())


def test_spearman_rho_compares_rankings_only():
    assert spearman_rho([1, 2, 3, 4], [10, 20, 30, 400]) == pytest.approx(1.0)
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman_rho([1, 2, 3], [10, 30, 20]) == pytest.approx(0.5)
