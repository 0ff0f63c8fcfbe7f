"""The multi-budget loop on choices that share work (keep rates of one patch size): per choice
the metrics of a separate run, fewer block calls than separate runs; and a model that calls its
backbone on crops (slide inference) still gets exact results."""
import pytest

from flexseg.models.contract import find_flexible
from tests.evaluation.conftest import make_runner

KEEP = {"model.backbone.keep_points": (0,), "model.backbone.keep_rates": (1.0, 0.5)}
CHOICES = ("p8-k0.5", "p8", "p4-k0.5")
SLIDE = {"model.test_cfg": dict(mode="slide", crop_size=(48, 48), stride=(32, 32))}


def _block_calls(runner) -> list[int]:
    calls = [0]
    for block in find_flexible(runner.model).blocks:  # attention: whole block or its half
        block.attn.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def _separate(tmp_path_factory, data_root, checkpoint, **extra) -> tuple[dict, int]:
    results, calls = {}, 0
    for choice in CHOICES:
        size, _, rate = choice[1:].partition("-k")
        pinned = {**KEEP, "model.backbone.patch_sizes": [int(size)],
                  "model.backbone.keep_rates": [float(rate or 1)]}
        runner = make_runner(tmp_path_factory.mktemp(choice), data_root, checkpoint,
                             dict(type="TestLoop"), **pinned, **extra)
        counter = _block_calls(runner)
        results[choice] = runner.test()
        calls += counter[0]
    return results, calls


@pytest.mark.parametrize("extra", [{}, SLIDE], ids=["whole", "slide"])
def test_shared_pass_matches_separate_runs(tmp_path_factory, small_digitseg, tiny_checkpoint,
                                           extra):
    runner = make_runner(tmp_path_factory.mktemp("shared"), small_digitseg, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices=",".join(CHOICES)),
                         **KEEP, **extra)
    counter = _block_calls(runner)
    metrics = runner.test()
    separate, separate_calls = _separate(tmp_path_factory, small_digitseg, tiny_checkpoint,
                                         **extra)
    for choice, expected in separate.items():
        assert {name: metrics[f"{choice}/{name}"] for name in expected} == expected, choice
    assert len({separate[c]["mIoU"] for c in CHOICES}) > 1  # the choices really differ
    if extra:  # crops: computed per choice as usual after the first batch
        assert counter[0] >= separate_calls
    else:  # p8 and p8-k0.5 share their first block
        assert counter[0] < separate_calls


def test_the_pass_reports_what_sharing_saved(tmp_path, small_digitseg, tiny_checkpoint,
                                             monkeypatch):
    import flexseg.evaluation.loops as loops

    logged = []
    monkeypatch.setattr(loops, "print_log", lambda message, **_: logged.append(message))
    runner = make_runner(tmp_path, small_digitseg, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices=",".join(CHOICES)), **KEEP)
    runner.test()
    # Two blocks, keep point inside block 0 (between its attention and MLP). Per batch the
    # sequences are p8-k0.5 (embed, attn 0, keep, mlp 0, block 1), p8 (embed, attn 0, mlp 0,
    # block 1), p4-k0.5 (5 ops): 14 ops; p8 and p8-k0.5 share embed and the attention of
    # block 0: 12. Three batches of the 8 images; the deepest path holds 5 states.
    assert "shared prefixes: 36 backbone operations instead of 42 (86%), at most 5 " \
           "intermediate states alive" in logged


def test_each_batch_is_preprocessed_once_for_every_choice(tmp_path, small_digitseg,
                                                          tiny_checkpoint):
    runner = make_runner(tmp_path, small_digitseg, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices=",".join(CHOICES)), **KEEP)
    calls = [0]
    runner.model.data_preprocessor.register_forward_hook(
        lambda *_: calls.__setitem__(0, calls[0] + 1))
    runner.test()
    assert calls[0] == len(runner.test_dataloader)  # one per batch, not one per choice
