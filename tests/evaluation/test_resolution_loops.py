"""The resolution factor in the one-pass multi-budget loop: each resolution gets its own metrics
and GFLOPs, computed on predictions of the label's size (the backbone resizes its input; the
model around it sees the image as loaded)."""
import json

from tests.evaluation.conftest import make_runner


def test_resolutions_are_evaluated_in_one_pass_at_the_label_size(tmp_path, small_digitseg,
                                                                 tiny_checkpoint):
    runner = make_runner(tmp_path, small_digitseg, tiny_checkpoint,
                         dict(type="MultiBudgetTestLoop", choices="p8,p8-r0.5,p8-r0.75"),
                         **{"model.backbone.resolutions": (1.0, 0.75, 0.5)})
    metrics = runner.test()
    assert {"p8/mIoU", "p8-r0.5/mIoU", "p8-r0.75/mIoU"} <= set(metrics)
    for entry, outputs in runner.test_loop.batch_outputs:
        for sample in outputs:
            assert sample.pred_sem_seg.shape == sample.gt_sem_seg.shape, entry.id
    rows = {row["id"]: row for row in
            json.loads((tmp_path / "multibudget_test.json").read_text())["choices"]}
    backbone = [rows[i]["backbone_gflops"] for i in ("p8-r0.5", "p8-r0.75", "p8")]
    assert backbone == sorted(backbone) and backbone[0] < 0.4 * backbone[2]
