"""A detector given a segmentation dataset (or the reverse) is refused in one line naming the
dataloader key, the dataset and the model, before anything is built."""
import pytest
from mmengine.config import Config

from flexseg.compat.task_match import check_dataset_task
from tests.conftest import BASELINE_CONFIG, REPO

DETECTION_CONFIG = REPO / "configs/detection/flexivit-ti6_maskrcnn_sfp_digitseg-coco-64x64.py"


@pytest.mark.parametrize("config", [DETECTION_CONFIG, BASELINE_CONFIG], ids=["det", "seg"])
def test_matching_datasets_pass(config):
    check_dataset_task(Config.fromfile(str(config)))


@pytest.mark.parametrize("dataset_type", ["DigitSegDataset", "mmseg.DigitSegDataset"])
def test_a_detector_refuses_a_segmentation_dataset(dataset_type):
    cfg = Config.fromfile(str(DETECTION_CONFIG))
    cfg.merge_from_dict({"val_dataloader.dataset.type": dataset_type})
    with pytest.raises(ValueError) as error:
        check_dataset_task(cfg)
    assert str(error.value) == (
        f"val_dataloader.dataset.type '{dataset_type}' is a segmentation dataset but "
        "model.type 'MaskRCNN' is a detection model; it needs an instance dataset with boxes "
        "and masks, e.g. DigitSegCocoDataset")


def test_a_segmentor_refuses_a_detection_dataset():
    cfg = Config.fromfile(str(BASELINE_CONFIG))
    cfg.merge_from_dict({"train_dataloader.dataset.type": "mmdet.DigitSegCocoDataset"})
    with pytest.raises(ValueError, match=r"^train_dataloader.dataset.type "
                                         r"'mmdet.DigitSegCocoDataset' is a detection dataset "
                                         r"but model.type 'EncoderDecoder' is a segmentation "
                                         r"model; it needs a segmentation dataset"):
        check_dataset_task(cfg)
