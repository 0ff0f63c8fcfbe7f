"""Reports of a multi-budget evaluation: JSON that reads back, CSV and Markdown consistent with
it, a PNG plot, and reference points from JSON or CSV."""
import csv
import json
import struct

import pytest

from flexseg.evaluation import (ChoiceResult, MultiBudgetResults, load_reference_points,
                                load_results, to_markdown, write_reports)


@pytest.fixture
def results() -> MultiBudgetResults:
    rows = [ChoiceResult("p16", 4.0, 2.0, 5_500_000, {"aAcc": 80.0, "mIoU": 30.5}, 120.0,
                         [5.0], pareto=True),
            ChoiceResult("p12", 7.0, 3.5, 5_500_000, {"aAcc": 79.0, "mIoU": 29.0}, 70.0),
            ChoiceResult("p8", 16.0, 8.0, 5_500_000, {"aAcc": 85.0, "mIoU": 35.25}, 30.0,
                         [20.0, 50.0], pareto=True)]
    return MultiBudgetResults((64, 64), "mIoU", True, rows)


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_all_outputs_are_written_and_agree(tmp_path, results):
    reference = tmp_path / "baselines.json"
    reference.write_text(json.dumps([{"name": "ViT/8 alone", "gflops": 15.0, "mIoU": 36.0}]))
    paths = write_reports(results, tmp_path / "out", "multibudget_test",
                          load_reference_points(reference))

    assert load_results(paths["json"]) == results
    with open(paths["csv"], newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["id"] for row in rows] == ["p16", "p12", "p8"]
    for row, expected in zip(rows, results.choices):
        assert float(row["gflops"]) == expected.gflops
        assert float(row["mIoU"]) == expected.metrics["mIoU"]
        assert row["pareto"] == str(expected.pareto)
    assert rows[2]["budgets"] == "20;50"
    assert paths["md"].read_text().strip() == to_markdown(results)
    width, height = png_size(paths["png"])
    assert 600 <= width <= 2000 and 400 <= height <= 1500


def test_markdown_table_sorted_with_budgets_column(results):
    lines = to_markdown(results).splitlines()
    assert lines[0] == ("| choice | GFLOPs | params (M) | mIoU | aAcc | img/s | "
                        "budgets (GFLOPs) |")
    assert lines[2] == "| p16 | 4 | 5.50 | 30.50 | 80.00 | 120.0 | ≤5 |"
    assert lines[4].startswith("| p8 | 16 |") and lines[4].endswith("| ≤20, ≤50 |")


def test_markdown_without_budgets_has_no_budget_column(results):
    for row in results.choices:
        row.budgets = []
    assert "budgets" not in to_markdown(results)


def test_reference_points_from_csv(tmp_path):
    path = tmp_path / "baselines.csv"
    path.write_text("name,gflops,mIoU\nDeiT-S,4.6,40.1\nDeiT-B,17.6,44.0\n")
    points = load_reference_points(path)
    assert [(p.name, p.gflops, p.metrics) for p in points] == [
        ("DeiT-S", 4.6, {"mIoU": 40.1}), ("DeiT-B", 17.6, {"mIoU": 44.0})]


def test_bad_reference_and_results_files(tmp_path):
    missing_gflops = tmp_path / "bad.json"
    missing_gflops.write_text(json.dumps([{"name": "x", "mIoU": 1.0}]))
    with pytest.raises(ValueError, match="needs 'name' and 'gflops'"):
        load_reference_points(missing_gflops)
    with pytest.raises(ValueError, match="not a multi-budget results file"):
        load_results(missing_gflops)
