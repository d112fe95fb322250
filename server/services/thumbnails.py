"""Small JPEG copies of submitted photos for the review pages, made once with Pillow and kept on
disk under the data folder, named by the photo's SHA-256 (never by the name a phone gave it).
A photo decrypted for a key holder gets one made in memory, never kept (`small_copy`)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from server.kernel import private

SIZE = (320, 320)
# Photos are decoded only up to this many pixels: a hostile file cannot exhaust memory.
Image.MAX_IMAGE_PIXELS = 64_000_000
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
                 "WEBP": "image/webp"}


def path(data_dir: str, sha256: str) -> Path:
    return Path(data_dir) / "thumbnails" / sha256[:2] / f"{sha256}.jpg"


def image_type(file) -> str | None:
    """The MIME type of a photo Pillow recognises, by its content; None for anything else."""
    try:
        with Image.open(file) as image:
            return IMAGE_FORMATS.get(image.format or "")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def thumbnail(data_dir: str, sha256: str, source: Path) -> Path | None:
    """The thumbnail of a stored photo, made on first use; None if it is not a photo."""
    target = path(data_dir, sha256)
    if target.exists():
        return target
    small = small_copy(source)
    if small is None:
        return None
    private.folders(target.parent)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".thumb-")
    with os.fdopen(handle, "wb") as file:
        file.write(small)
    os.replace(tmp, target)  # two workers making the same one: either copy is right
    return target


def small_copy(source: Path | io.BytesIO) -> bytes | None:
    """The thumbnail's JPEG bytes, made in memory from a file or bytes; None if not a photo."""
    try:
        with Image.open(source) as image:
            image = ImageOps.exif_transpose(image)
            image.thumbnail(SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return None
    return out.getvalue()
