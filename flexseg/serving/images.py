"""Uploads in, masks out: an upload checked and decoded with one clear error per kind of bad
input, and a label map encoded as an indexed PNG or as COCO run-length encodings.

The pixel count is read from the image header before anything is decoded, so a 20000x20000
upload costs a header parse, not 1.2 GB of pixels.
"""
from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

# Types a browser or a client library sends for an image file; octet-stream is what many
# clients send when they do not know.
IMAGE_TYPES = ("image/", "application/octet-stream")


class UploadError(ValueError):
    """A bad upload: the HTTP status to answer with and one line saying what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_content_type(content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and not kind.startswith(IMAGE_TYPES):
        raise UploadError(415, f"content type {kind!r} is not an image: send the file as "
                               "image/png, image/jpeg, ... (or multipart/form-data with a "
                               "file field 'image')")


def decode_image(data: bytes, max_side: int) -> np.ndarray:
    """An uploaded file as an HxWx3 BGR uint8 array (what OpenMMLab pipelines take)."""
    if not data:
        raise UploadError(400, "the upload is empty")
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as error:  # PIL's own limit, above any sane max_side
        raise UploadError(413, f"the image is too large ({error}); the limit is "
                               f"{max_side}x{max_side} px") from None
    except Exception:
        raise UploadError(400, "the upload is not an image this server reads (PNG, JPEG, BMP, "
                               "WebP, TIFF, ...)") from None
    width, height = image.size
    if max(width, height) > max_side:
        raise UploadError(413, f"the image is {width}x{height} px; the limit is "
                               f"{max_side}x{max_side} px")
    if width == 0 or height == 0:
        raise UploadError(400, f"the image is {width}x{height} px: nothing to segment")
    try:
        rgb = np.asarray(image.convert("RGB"))
    except Exception as error:  # truncated or corrupt data after a valid header
        raise UploadError(400, f"the image is truncated or corrupt ({error})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def mask_png(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> bytes:
    """An indexed PNG: pixel values are the class indices, the palette their colours."""
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    flat = [int(value) for color in palette for value in color]
    image.putpalette(flat + [0] * (768 - len(flat)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mask_rle(labels: np.ndarray) -> dict[str, dict]:
    """COCO run-length encodings (``size``, ``counts``), one per class present."""
    encoded = {}
    for label in np.unique(labels):
        rle = coco_mask.encode(np.asfortranarray(labels == label, dtype=np.uint8))
        encoded[str(int(label))] = {"size": [int(v) for v in rle["size"]],
                                    "counts": rle["counts"].decode("ascii")}
    return encoded


def png_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
