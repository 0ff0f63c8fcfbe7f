"""Pictures of a multi-budget test: one per image, every evaluated choice side by side with its
label, for segmentation as for depth (tests/depth/test_depth_tools.py); depth panels share one
colour scale."""
from types import SimpleNamespace

import cv2
import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from flexseg.budget.space import BudgetEntry
from flexseg.evaluation import BudgetVisualizationHook
from flexseg.evaluation.visualize import GAP, LABEL_HEIGHT, MIN_PANEL_HEIGHT, comparison_picture
from flexseg.models.flexivit import PatchChoice
from tests.evaluation.conftest import TINY_CONFIG
from tests.evaluation.test_test_tool import DATA_OPTIONS, run_test_tool


def _panel(picture: np.ndarray, index: int) -> np.ndarray:
    left = index * (MIN_PANEL_HEIGHT + GAP)
    return picture[LABEL_HEIGHT:, left:left + MIN_PANEL_HEIGHT]


def test_segmentation_pictures_hold_every_choice(monkeypatch, tmp_path, small_digitseg,
                                                  tiny_checkpoint):
    run_test_tool(monkeypatch, TINY_CONFIG, tiny_checkpoint, "--work-dir", tmp_path / "run",
                  "--choices", "p16,p8", "--show-dir", tmp_path / "show", "--cfg-options",
                  f"test_dataloader.dataset.data_root={small_digitseg}", *DATA_OPTIONS)
    pictures = sorted((tmp_path / "show").glob("*.png"))
    assert len(pictures) == 8  # one per validation image
    picture = cv2.imread(str(pictures[0]))
    assert picture.shape[1] == 4 * MIN_PANEL_HEIGHT + 3 * GAP  # input, truth, p16, p8
    assert not np.array_equal(_panel(picture, 2), _panel(picture, 3))


def test_labels_name_each_choice_and_its_gflops():
    entries = [BudgetEntry(PatchChoice((16, 16)), 0.1232, 0.05, 1),
               BudgetEntry(PatchChoice((8, 8)), 0.2597, 0.18, 1)]
    outputs = [["a16", "b16"], ["a8", "b8"]]
    runner = SimpleNamespace(test_loop=SimpleNamespace(batch_outputs=list(zip(entries,
                                                                              outputs))))
    predictions = BudgetVisualizationHook()._predictions(runner, outputs[1])
    assert predictions == [[("p16  0.123 GFLOPs", "a16"), ("p8  0.26 GFLOPs", "a8")],
                           [("p16  0.123 GFLOPs", "b16"), ("p8  0.26 GFLOPs", "b8")]]


def _depth_sample(gt: torch.Tensor, pred: torch.Tensor) -> SegDataSample:
    return SegDataSample(gt_depth_map=PixelData(data=gt[None]),
                         pred_depth_map=PixelData(data=pred[None]))


def test_depth_panels_share_one_colour_scale():
    gt = torch.linspace(1.0, 4.0, 64 * 64).reshape(64, 64)
    gt[:8] = 0  # no ground truth on the top rows
    exact = gt.clone()
    exact[:8] = 2.0
    far = exact * 2  # reaches 8 m: sets the scale of the whole picture
    image = np.zeros((64, 64, 3), np.uint8)
    picture = comparison_picture(image, [("exact", _depth_sample(gt, exact)),
                                         ("far", _depth_sample(gt, far))], {})
    truth, same = _panel(picture, 1), _panel(picture, 2)
    rows = slice(8 * 3, None)  # 64 px panels are drawn 3x larger
    assert np.array_equal(truth[rows], same[rows])  # same depth, same colour
    assert (truth[:8 * 3] == 0).all()  # no ground truth: black
    assert not np.array_equal(same[rows], _panel(picture, 3)[rows])


def test_detection_panels_draw_confident_instances_only():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[0, 10:20, 10:20] = masks[1, 40:50, 40:50] = True
    pred = InstanceData(bboxes=torch.tensor([[10.0, 10, 19, 19], [40, 40, 49, 49]]),
                        scores=torch.tensor([0.9, 0.1]), labels=torch.tensor([0, 1]),
                        masks=masks)
    image = np.full((64, 64, 3), 255, np.uint8)
    picture = comparison_picture(image, [("p8", DetDataSample(pred_instances=pred))],
                                 {"palette": [(255, 0, 0), (0, 0, 255)]})
    panel = _panel(picture, 1)[::3, ::3]  # back to 64 px
    assert (panel[12:18, 12:18] != 255).any()  # the confident instance is drawn
    assert (panel[40:50, 40:50] == 255).all()  # the one below the threshold is not
