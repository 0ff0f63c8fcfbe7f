"""The study figure keeps a label's colour across panels and draws the references bold."""
from pathlib import Path

from flexseg.study.report import Point, label_colors, plot_panels


def curve(*values: float) -> list[Point]:
    return [Point(f"c{i}", 0.1 * (i + 1), v) for i, v in enumerate(values)]


def test_label_colors_agree_across_panels_and_differ_within_each():
    panels = [[f"recipe {i}" for i in range(12)] + ["fixed"],
              ["recipe 3", "fixed", "new"],
              ["stitched", "S alone", "L alone"]]
    colors = label_colors(panels)
    for labels in panels:
        assert len({colors[label] for label in labels}) == len(labels)
    dark = label_colors([["a"]])["a"]
    assert colors["stitched"] == dark  # a panel of its own starts with the strong colours


def test_emphasized_curves_are_bold_and_the_others_faded(tmp_path: Path):
    panels = [("short", {"uniform": curve(1, 2), "fixed": curve(3, 4), "best": curve(3, 3)}),
              ("long", {"fixed": curve(5, 6), "uniform": curve(2, 3)})]
    fig = plot_panels(panels, tmp_path / "f.png", ylabel="mIoU", xlabel="GFLOPs",
                      emphasize=["fixed", "best"])
    assert (tmp_path / "f.png").stat().st_size > 0
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert lines["fixed"].get_linewidth() > 2 * lines["uniform"].get_linewidth()
        assert lines["uniform"].get_alpha() < 1
        assert lines["fixed"].get_alpha() in (None, 1)
    short, long = ({line.get_label(): line.get_color() for line in ax.get_lines()}
                   for ax in fig.axes)
    assert short["fixed"] == long["fixed"] and short["uniform"] == long["uniform"]
