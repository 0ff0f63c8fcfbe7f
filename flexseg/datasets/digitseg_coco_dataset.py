"""DigitSeg's COCO instances as an MMDetection dataset (10 digit categories, RLE masks)."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine import fileio

from .digitseg import check_generator_version, has_letters
from .digitseg_dataset import GENERATE_HINT
from .metainfo import DIGIT_CLASSES, DIGIT_PALETTE


@DATASETS.register_module()
class DigitSegCocoDataset(CocoDataset):
    """mmdet's CocoDataset with DigitSeg's classes.

    Typical config: ``data_root='data/digitseg'``, ``ann_file='coco/instances_train.json'``,
    ``data_prefix=dict(img='images/training/')`` (``val`` / ``images/validation/`` for
    validation). Masks are compressed RLE, so keep ``LoadAnnotations(poly2mask=True)`` (the
    default) when loading them.
    """

    METAINFO = dict(classes=DIGIT_CLASSES, palette=DIGIT_PALETTE)

    def load_data_list(self) -> list[dict]:
        """Fail with the missing path and how to create it when the file is absent, or with
        the versions when another generator version made the data."""
        if not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(f"DigitSeg COCO file {self.ann_file} does not exist; "
                                    + GENERATE_HINT.format(root=self.data_root or "<data_root>"))
        if self.data_root:
            check_generator_version(self.data_root)
            if has_letters(self.data_root):
                # its ten classes would silently drop every letter's annotations
                raise ValueError(f"{self.data_root} was generated with letter classes, which "
                                 "DigitSegCocoDataset does not have; pass "
                                 "metainfo=dict(classes=...) with all 36 names to mmdet's "
                                 "CocoDataset, or generate the set without --letters")
        return super().load_data_list()
