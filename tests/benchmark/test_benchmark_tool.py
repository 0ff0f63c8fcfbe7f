"""tools/benchmark.py --quick, run once: every figure's rows reach the table and the JSON, and
what holds whatever the timings does hold (same networks give the same loss, analytic FLOPs
match the counter within 1%, the one pass gives the separate runs' metrics, compiling stays
within its graph bound)."""
import json
import logging
import math
import os
import subprocess
from pathlib import Path

import pytest
from mmengine.logging import MMLogger, print_log

from tests.conftest import PYTHON, REPO, run_tool_here

# Rows per figure in a quick run.
EXPECTED = {"P1": 2, "P2": 6, "P2s": 9, "P3a": 1, "P3b": 4, "PRE": 1, "P4": 6, "P5": 2,
            "P6": 2, "MEM": 2, "PRICE": 1, "PAR": 1,
            "ATTN": 2, "CMP": 2, "AMP": 1}


@pytest.fixture(scope="module")
def quick(tmp_path_factory, small_digitseg):
    """The whole quick run, in a process of its own: its probes fork it, and autograd refuses to
    run in a child forked after torch.compile ran in the parent (as other tests here do)."""
    path = tmp_path_factory.mktemp("benchmark") / "quick.json"
    result = subprocess.run([PYTHON, "tools/benchmark.py", "--quick", "--json", str(path),
                             "--data-root", str(small_digitseg)], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(path.read_text())


def _rows(document: dict, figure: str) -> list[dict]:
    return [row for row in document["rows"] if row["figure"] == figure]


def test_every_figure_reaches_the_table_and_the_json(quick):
    printed, document = quick
    counts = {figure: len(_rows(document, figure)) for figure in EXPECTED}
    assert counts == EXPECTED
    table = [line for line in printed.splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(document["rows"])
    for line, row in zip(table, document["rows"]):
        assert line.count("|") == 6, line  # no cell breaks the table
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        assert cells[0] == f"{row['figure']} {row['name']}"
        assert cells[4] == f"`python tools/benchmark.py --only {row['figure']} --quick`"
        assert math.isfinite(row["value"])
        assert (row["goal"] is None) == (row["met"] is None)


def test_what_holds_whatever_the_timings(quick):
    _, document = quick
    for row in _rows(document, "P4"):
        assert abs(row["value"] - 1) <= 0.01, row["name"]
    same_network = [row for row in _rows(document, "P2") if row["details"]["losses"]]
    assert len(same_network) == 3  # p8, p16 at the grid stride, the stitched L anchor
    for row in same_network:
        ours, stock = row["details"]["losses"]
        assert ours == pytest.approx(stock, rel=1e-5), row["name"]
    assert all(row["details"]["max_abs_difference"] < 1e-5 for row in _rows(document, "P1"))
    assert _rows(document, "P3a")[0]["details"]["same_metrics"]
    for row in _rows(document, "P3b"):
        details = row["details"]
        assert 0 < details["floor"] < 1
        assert details["ops_run"] < details["ops_separately"]
    assert all(row["details"]["with_cp"]["step_bytes"] > 0 for row in _rows(document, "MEM"))
    graphs = _rows(document, "CMP")[-1]
    assert graphs["met"] and graphs["value"] == graphs["details"]["bound"]


@pytest.mark.parametrize("args, message", [
    (["--only", "P1,P9"],
     "error: unknown figure P9; known: P1, P2, P2s, P3a, P3b, PRE, P4, P5, P6, MEM, PRICE, "
     "PAR, ATTN, CMP, AMP"),
    (["--only", "P3a", "--data-root", "/nonexistent/digitseg"],
     "error: no DigitSeg in /nonexistent/digitseg; generate it with python "
     "tools/generate_digitseg.py --root /nonexistent/digitseg"),
])
def test_a_bad_request_ends_in_one_line_before_measuring(args, message):
    result = run_tool_here("tools/benchmark.py", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == message


def test_the_benchmark_leaves_no_logger_writing_to_its_deleted_folders(small_digitseg):
    """Its runners work in temporary folders (the multi-budget figure's, in this process); the
    process logs on afterwards."""
    assert run_tool_here("tools/benchmark.py", "--quick", "--only", "P3a", "--data-root",
                         str(small_digitseg)).returncode == 0
    for logger in MMLogger._instance_dict.values():
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                assert Path(handler.baseFilename).parent.exists(), logger.instance_name
    print_log("logging after the benchmark", logger="current", level=logging.WARNING)
