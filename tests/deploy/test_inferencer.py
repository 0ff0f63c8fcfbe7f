"""FlexInferencer: switching choice between calls gives exactly what a model pinned to that
choice gives (the stock MMSegmentation inferencer on the exported pinned config is the
reference), budgets resolve by the selection rules, and bad budgets fail in one line."""
import threading
import warnings

import pytest
import torch
from mmseg.apis import MMSegInferencer

from flexseg.deploy.inferencer import FlexInferencer, FlexSegInferencer
from flexseg.evaluation.export.dense_forward import DenseForward
from tests.deploy.conftest import CHOICES, TINY_CONFIG, pinned_model, profile_of, tiny_cfg

SWITCHES = ["p4", "p16", "p8", "p4", "p8", "p16", "p16", "p4"]


@pytest.fixture(scope="module")
def inferencer(tiny_checkpoint):
    return FlexInferencer(TINY_CONFIG, tiny_checkpoint)


@pytest.fixture(scope="module")
def pinned(tiny_checkpoint, tmp_path_factory):
    """Per choice: the stock inferencer on the pinned export, and the pinned model."""
    directory = tmp_path_factory.mktemp("pinned")
    built = {}
    for choice in CHOICES:
        config, checkpoint, model = pinned_model(tiny_cfg(), tiny_checkpoint, choice, directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tiny checkpoint has no class names
            stock = MMSegInferencer(str(config), str(checkpoint), device="cpu")
        built[choice] = (stock, model)
    return built


def _samples(result):
    return result if isinstance(result, list) else [result]


def test_switching_every_call_equals_the_pinned_model(inferencer, pinned, images):
    assert isinstance(inferencer, FlexSegInferencer)
    for choice in SWITCHES:
        got = _samples(inferencer(images, budget=choice, return_datasamples=True))
        want = _samples(pinned[choice][0](images, return_datasamples=True))
        for a, b in zip(got, want, strict=True):
            assert a.metainfo["choice"] == choice
            assert torch.equal(a.seg_logits.data, b.seg_logits.data)
            assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
    # The choices really differ, so equality above is not a coincidence of a dead backbone.
    maps = [inferencer(images[0], budget=c)["predictions"] for c in CHOICES]
    assert any((maps[0] != other).any() for other in maps[1:])


def test_run_pinned_equals_the_pinned_model_on_a_preprocessed_batch(inferencer, pinned,
                                                                    images):
    batch = inferencer.preprocess_images(images)
    assert batch.shape == (2, 3, 64, 64)
    for choice in SWITCHES:
        with torch.no_grad():
            want = DenseForward(pinned[choice][1])(batch)
        assert torch.equal(inferencer.run_pinned(batch, choice), want)


def test_threads_sharing_one_inferencer_each_get_their_choice(inferencer, pinned, images):
    batch = inferencer.preprocess_images(images)
    with torch.no_grad():
        want = {choice: DenseForward(pinned[choice][1])(batch) for choice in CHOICES}
    failures = []

    def work(choice):
        for _ in range(5):
            if not torch.equal(inferencer.run_pinned(batch, choice), want[choice]):
                failures.append(choice)

    threads = [threading.Thread(target=work, args=(choice,)) for choice in CHOICES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_result_dict_carries_the_choice_and_the_usual_keys(inferencer, images):
    result = inferencer(images[0], budget="p8")
    assert result["choice"] == "p8"
    assert result["predictions"].shape == (64, 64)
    assert result["visualization"] == []
    assert inferencer(images[0])["choice"] == "p4"  # no budget: the most expensive


def test_attributes_describe_the_space(inferencer):
    assert inferencer.choice_ids == ["p16", "p8", "p4"]
    assert list(inferencer.gflops) == inferencer.choice_ids
    assert inferencer.gflops["p16"] < inferencer.gflops["p8"] < inferencer.gflops["p4"]
    assert [entry.id for entry in inferencer.space] == inferencer.choice_ids
    # The checkpoint holds no class names: the config's dataset gives them.
    assert inferencer.model.dataset_meta["classes"][:2] == ("background", "0")


def test_gflops_cap_takes_the_most_expensive_that_fits(inferencer):
    gflops = inferencer.gflops
    assert inferencer.select(gflops=gflops["p8"]) == "p8"
    assert inferencer.select(gflops=(gflops["p8"] + gflops["p4"]) / 2) == "p8"
    assert inferencer.select(gflops=100) == "p4"


def test_latency_cap_uses_the_profile_and_its_metric(tiny_checkpoint):
    # p8 is slower than the budget allows at 5 ms; p16 and p4 fit 20 ms, but p16 scores best.
    profile = profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0},
                         metric={"p16": 40.0, "p8": 50.0, "p4": 30.0})
    ranked = FlexInferencer(TINY_CONFIG, tiny_checkpoint, profile=profile, warmup=False)
    assert ranked.select(latency_ms=5) == "p16"
    assert ranked.select(latency_ms=6) == "p8"
    assert ranked.select(latency_ms=20) == "p8"
    profile.metric = None  # without a metric: the most expensive that fits
    unranked = FlexInferencer(TINY_CONFIG, tiny_checkpoint, profile=profile, warmup=False)
    assert unranked.select(latency_ms=20) == "p4"
    assert unranked.select(latency_ms=14.9) == "p8"


@pytest.mark.parametrize("budget, message", [
    (dict(budget="p7"), "unknown choice 'p7'; available: p16, p8, p4"),
    (dict(gflops=1e-6), "below the cheapest choice"),
    (dict(latency_ms=1.0), "latency cap 1 ms is below the fastest choice: p16 takes 2 ms"),
    (dict(latency_ms=-3), "latency budgets must be positive numbers of milliseconds"),
    (dict(budget="p8", latency_ms=3), "give one of budget, gflops and latency_ms, not "
                                      "budget and latency_ms"),
])
def test_bad_budgets_fail_in_one_line(tiny_checkpoint, budget, message):
    profile = profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0})
    inferencer = FlexInferencer(TINY_CONFIG, tiny_checkpoint, profile=profile, warmup=False)
    with pytest.raises(ValueError) as error:
        inferencer.select(**budget)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_latency_cap_without_a_profile_says_what_is_missing(inferencer):
    with pytest.raises(ValueError, match="latency_ms needs a latency profile"):
        inferencer.select(latency_ms=10)


def test_a_profile_from_elsewhere_warns_naming_each_difference(tiny_checkpoint):
    profile = profile_of({"p16": 2.0, "p8": 6.0, "p4": 15.0}, threads=64, cpu="Other CPU")
    with pytest.warns(UserWarning) as caught:
        FlexInferencer(TINY_CONFIG, tiny_checkpoint, profile=profile, warmup=False)
    messages = [str(w.message) for w in caught if "latency profile" in str(w.message)]
    assert any("threads: profiled with 64, running with 1" in m for m in messages)
    assert any("cpu: profiled with 'Other CPU'" in m for m in messages)


def test_a_profile_of_another_model_is_refused(tiny_checkpoint):
    profile = profile_of({"p16": 2.0, "p12": 4.0})
    with pytest.raises(ValueError, match="measured on another model: it has p12"):
        FlexInferencer(TINY_CONFIG, tiny_checkpoint, profile=profile, warmup=False)


def test_weights_of_another_model_are_refused(tmp_path):
    from tests.evaluation.conftest import build_segmentor

    other = build_segmentor(tiny_cfg(**{"model.backbone.embed_dim": 48,
                                        "model.neck.in_channels": [48, 48],
                                        "model.decode_head.in_channels": [32, 32]}))
    path = tmp_path / "other.pth"
    torch.save({"meta": {}, "state_dict": other.state_dict()}, path)
    with pytest.raises(ValueError, match="does not fit the config's model"):
        FlexInferencer(TINY_CONFIG, path)


def test_switching_report_times_both_and_finds_outputs_identical(inferencer, images):
    from flexseg.deploy.switching import switching_report

    report = switching_report(inferencer, inferencer.preprocess_images(images), rounds=2)
    assert report["identical"] is True
    assert list(report["choices"]) == ["p16", "p8", "p4"] and report["cheapest"] == "p16"
    assert report["switch_us"] > 0
    assert report["switch_share"] == report["switch_us"] / 1000 / report["cheapest_ms"]
