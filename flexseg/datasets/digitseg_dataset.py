"""DigitSeg as an MMSegmentation dataset (ADE20K layout, 11 classes, background kept)."""
from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .digitseg import check_generator_version, has_letters
from .metainfo import LETTER_SEG_CLASSES, LETTER_SEG_PALETTE, SEG_CLASSES, SEG_PALETTE

GENERATE_HINT = "generate it with: python tools/generate_digitseg.py --root {root}"


@DATASETS.register_module()
class DigitSegDataset(BaseSegDataset):
    """Images ``*.jpg`` with uint8 PNG labels of the same stem: 0 = background, d + 1 = digit d.

    Typical config: ``data_root='data/digitseg'``,
    ``data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')``.
    A missing folder or an image without its label raises FileNotFoundError naming the path,
    rather than silently yielding an empty or misaligned dataset; a folder made by another
    version of the generator raises ValueError.
    """

    METAINFO = dict(classes=SEG_CLASSES, palette=SEG_PALETTE)
    LETTERS = False

    def __init__(self, img_suffix: str = ".jpg", seg_map_suffix: str = ".png",
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> list[dict]:
        """List image/label pairs after checking that the folders and every label exist."""
        img_dir = self.data_prefix.get("img_path", None)
        ann_dir = self.data_prefix.get("seg_map_path", None)
        self._check_dir(img_dir, "image")
        if ann_dir is not None:
            self._check_dir(ann_dir, "annotation")
        if self.data_root:
            check_generator_version(self.data_root)
            self._check_classes()
        data_list = super().load_data_list()
        if not data_list:
            raise FileNotFoundError(f"no '*{self.img_suffix}' images in {img_dir}; "
                                    + GENERATE_HINT.format(root=self._root_hint()))
        if ann_dir is not None:
            for info in data_list:
                if not fileio.exists(info["seg_map_path"], backend_args=self.backend_args):
                    raise FileNotFoundError(f"image {info['img_path']} has no annotation "
                                            f"{info['seg_map_path']}")
        return data_list

    def _check_dir(self, path: str | None, kind: str) -> None:
        if not path or fileio.isdir(path, backend_args=self.backend_args):
            return
        root = self.data_root
        if root and not fileio.isdir(root, backend_args=self.backend_args):
            raise FileNotFoundError(f"DigitSeg data root {root} does not exist; "
                                    + GENERATE_HINT.format(root=root))
        raise FileNotFoundError(f"DigitSeg {kind} folder {path} does not exist; "
                                + GENERATE_HINT.format(root=self._root_hint()))

    def _check_classes(self) -> None:
        """Refuse a set whose glyph classes (with or without letters) are not this class's."""
        letters = has_letters(self.data_root)
        if letters != self.LETTERS:
            wanted = "DigitSegLettersDataset" if letters else "DigitSegDataset"
            raise ValueError(f"{self.data_root} was generated {'with' if letters else 'without'} "
                             f"letter classes; load it with type='{wanted}'")

    def _root_hint(self) -> str:
        return self.data_root or "<data_root>"


@DATASETS.register_module()
class DigitSegLettersDataset(DigitSegDataset):
    """A DigitSeg set generated with ``--letters``: 37 classes, letter i (0 = 'A') is 11 + i."""

    METAINFO = dict(classes=LETTER_SEG_CLASSES, palette=LETTER_SEG_PALETTE)
    LETTERS = True
