"""Test-time pictures for every task, one per sample, with every evaluated choice side by side.

    default_hooks = dict(visualization=dict(type='BudgetVisualizationHook'))
    python tools/test.py CONFIG CKPT --show-dir DIR    # sets draw=True, test_out_dir=DIR

Under a multi-budget test loop the picture of a sample holds the input, the ground truth and the
prediction at each evaluated choice, labelled with its id and GFLOPs; under a plain test loop,
the input, the ground truth and the one prediction. ``tools/test.py`` switches to this hook
whenever ``--show-dir`` meets a multi-budget test.
"""
from __future__ import annotations

import os
from pathlib import Path

import mmcv
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from flexseg.evaluation.visualize import comparison_picture


@HOOKS.register_module()
class BudgetVisualizationHook(Hook):
    """Write ``<test_out_dir>/<image name>.png`` for every ``interval``-th test sample.

    Args:
        draw: whether to draw at all (``--show``/``--show-dir`` turn it on).
        interval: draw one sample in this many.
        test_out_dir: output folder (default: ``<work_dir>/<timestamp>/vis``).
        score_thr: detection score threshold of the drawn instances.
        show: also show each picture in a window, for ``wait_time`` seconds.
    """

    priority = "NORMAL"

    def __init__(self, draw: bool = False, interval: int = 1, test_out_dir: str | None = None,
                 score_thr: float = 0.3, show: bool = False, wait_time: float = 0.0) -> None:
        if interval < 1:
            raise ValueError(f"interval must be a positive integer, got {interval}")
        self.draw = draw
        self.interval = interval
        self.test_out_dir = test_out_dir
        self.score_thr = score_thr
        self.show = show
        self.wait_time = wait_time
        self._seen = 0

    def before_test(self, runner) -> None:
        self._seen = 0

    def _predictions(self, runner, outputs: list) -> list[list[tuple[str, object]]]:
        """Per sample, (label, data sample) for each evaluated choice (or the only one)."""
        per_choice = getattr(runner.test_loop, "batch_outputs", None)
        if not per_choice:
            return [[("prediction", sample)] for sample in outputs]
        return [[(f"{entry.id}  {entry.gflops:.3g} GFLOPs", samples[index])
                 for entry, samples in per_choice] for index in range(len(outputs))]

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.draw or not outputs:
            return
        out_dir = Path(self.test_out_dir or os.path.join(runner.work_dir, runner.timestamp,
                                                         "vis"))
        out_dir.mkdir(parents=True, exist_ok=True)
        meta = dict(runner.visualizer.dataset_meta or {})
        for predictions in self._predictions(runner, outputs):
            self._seen += 1
            if (self._seen - 1) % self.interval:
                continue
            path = predictions[0][1].img_path
            image = mmcv.imread(path, channel_order="rgb")
            picture = comparison_picture(image, predictions, meta, self.score_thr)
            mmcv.imwrite(picture[..., ::-1], str(out_dir / f"{Path(path).stem}.png"))
            if self.show:
                runner.visualizer.show(picture, win_name=Path(path).name,
                                       wait_time=self.wait_time)
