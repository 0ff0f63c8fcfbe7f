"""Fuzzed settings: 1,000 seeded random strings given as choice ids, as budgets, and as values of
the budget keys of ``--cfg-options`` either work or are refused with a ValueError (the tools'
one-line ``error:``) or an argparse usage error; no other exception escapes.

The strings are built from the pieces these settings are made of (ids like ``p16-k0.7``,
numbers, separators, brackets, quotes, ``nan``/``inf``/``None``...), so many of them parse.
"""
import argparse
import random

import pytest
from mmengine.config import Config

from flexseg.budget.loop import BudgetTraining
from flexseg.cli import add_common_args
from flexseg.evaluation.selection import parse_budgets, parse_choices, select_choices
from flexseg.models import FlexiViT

from tests.budget.conftest import make_space

NUM_STRINGS = 1000
PIECES = ["p", "8", "16", "k", "0.5", "-", ".", ",", " ", "x", "e", "1e3", "0", "-1", "[", "]",
          "(", ")", "'", '"', "=", "all", "pareto", "nan", "inf", "None", "True", "s0", "l2",
          "é", "\t", "{", "}", ":", "p8", "p16-k0.7", "5", "10", "1e309", "_"]
SPACE = make_space({32: 1.0, 16: 4.0, 8: 16.0})
BUDGET_KEYS = [
    *(f"train_cfg.sampler.{key}" for key in ("strategy", "seed", "gap_gflops", "weights",
                                              "num_random", "min_gflops", "max_gflops",
                                              "num_choices")),
    "train_cfg.eval_choice", "train_cfg.image_hw", "train_cfg.distill.mode",
    "train_cfg.distill.teacher_choice", "train_cfg.distill.weight",
    "val_cfg.choices", "val_cfg.budgets", "test_cfg.choices", "test_cfg.budgets",
]


def fuzz_strings(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6))) for _ in range(count)]


def _choice_ids(text: str) -> None:
    select_choices(SPACE, parse_choices(text))


def _budgets(text: str) -> None:
    select_choices(SPACE, budgets=parse_budgets(text))


def _activate(text: str, backbone=FlexiViT(img_size=32, patch_size=8, patch_sizes=[8, 16],
                                            embed_dim=8, depth=1, num_heads=1)) -> None:
    backbone.activate(text)


def _cfg_option(key: str, text: str) -> None:
    """What the tools do with ``--cfg-options KEY=TEXT`` for a budget key, short of training."""
    parser = argparse.ArgumentParser(prog="train.py", exit_on_error=True)
    add_common_args(parser)
    options = parser.parse_args(["--cfg-options", f"{key}={text}"]).cfg_options
    cfg = Config(dict(train_cfg=dict(sampler=dict(strategy="uniform")),
                      val_cfg=dict(choices="all"), test_cfg=dict(choices="all")))
    cfg.merge_from_dict(options)
    train = cfg.train_cfg
    BudgetTraining(None, train.sampler, train.get("image_hw"), train.get("eval_choice"),
                   train.get("distill")).resolve(SPACE, seed=0)[0].entries(0)
    for loop in (cfg.val_cfg, cfg.test_cfg):
        select_choices(SPACE, loop.choices, loop.get("budgets"))


def _outcome(run, *args) -> str:
    try:
        run(*args)
    except ValueError:
        return "refused"
    except SystemExit as exit_info:
        assert exit_info.code == 2  # argparse's usage error: one line naming --cfg-options
        return "usage error"
    return "accepted"


def test_fuzzed_settings_parse_or_are_refused_with_a_value_error(capsys):
    rng = random.Random(1)
    outcomes = {}
    for index, text in enumerate(fuzz_strings(NUM_STRINGS)):
        key = rng.choice(BUDGET_KEYS)
        for name, run, args in (("choice ids", _choice_ids, (text,)),
                                ("budgets", _budgets, (text,)),
                                ("activate", _activate, (text,)),
                                (f"--cfg-options {key}", _cfg_option, (key, text))):
            try:
                result = _outcome(run, *args)
            except Exception as error:  # anything but a ValueError is an escape
                pytest.fail(f"string {index} {text!r} as {name}: {type(error).__name__}: "
                            f"{error}")
            outcomes.setdefault(name.split()[0], []).append(result)
    capsys.readouterr()  # argparse's usage messages
    # The strings exercise both sides of every parser.
    assert len(outcomes["choice"]) == NUM_STRINGS
    for name, results in outcomes.items():
        assert "refused" in results, name
    assert "accepted" in outcomes["choice"] and "accepted" in outcomes["budgets"]
    assert "accepted" in outcomes["--cfg-options"]
    assert "usage error" in outcomes["--cfg-options"]
