"""Pictures: the options of Orthanc's image routes, and series montages. No I/O.

Pillow (the ``images`` extra) is needed only to compose montages; it is imported when used.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .errors import MissingDependencyError, OrthancInputError, UnexpectedContentError

__all__ = [
    "ImageFormat",
    "compose_montage",
    "frame_route",
    "image_options",
    "pick_evenly",
    "require_pillow",
    "series_frames",
]

ImageFormat = Literal["png", "jpeg"]
"""The picture formats Orthanc renders: ``"png"`` (lossless, the default) or ``"jpeg"``."""

_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}


def image_options(image_format: str, quality: int | None) -> tuple[dict[str, str], dict[str, int]]:
    """The ``Accept`` header and query values asking Orthanc for a picture in this format.

    Raises:
        OrthancInputError: An unknown format, or a quality outside 1-100 or without JPEG.

    Example:
        >>> image_options("jpeg", 80)
        ({'Accept': 'image/jpeg'}, {'quality': 80})
    """
    media_type = _MEDIA_TYPES.get(str(image_format).lower())
    if media_type is None:
        raise OrthancInputError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    if quality is None:
        return {"Accept": media_type}, {}
    if media_type != "image/jpeg":
        raise OrthancInputError("quality= applies to JPEG only: pass image_format='jpeg'")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise OrthancInputError(f"quality must be an integer from 1 to 100, got {quality!r}")
    return {"Accept": media_type}, {"quality": quality}


def check_positive(name: str, value: int | None) -> None:
    """Refuse a size or count that is not a positive integer (None passes).

    Raises:
        OrthancInputError: Zero, negative, or not an integer.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise OrthancInputError(f"{name} must be a positive integer, got {value!r}")


def frame_route(frame: int | None, route: str) -> str:
    """The route of a picture of the first frame (``frame=None``) or of one frame (from 0).

    Raises:
        OrthancInputError: A negative or non-integer frame.

    Example:
        >>> frame_route(2, "rendered")
        'frames/2/rendered'
    """
    if frame is None:
        return route
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise OrthancInputError(f"frame must be an integer from 0, got {frame!r}")
    return f"frames/{frame}/{route}"


def series_frames(instances: Any) -> list[tuple[str, int]]:
    """Every ``(instance_id, frame)`` of a series, in InstanceNumber order.

    Args:
        instances: The answer of ``GET /series/{id}/instances`` (expanded instances).

    Raises:
        UnexpectedContentError: The answer is not a list of instances.

    Example:
        >>> series_frames([{"ID": "a", "MainDicomTags": {"NumberOfFrames": "2"}}])
        [('a', 0), ('a', 1)]
    """
    if not isinstance(instances, list) or not all(isinstance(x, dict) for x in instances):
        raise UnexpectedContentError(f"expected a list of instances, got {instances!r:.200}")
    ordered = sorted(instances, key=_instance_order)
    frames: list[tuple[str, int]] = []
    for instance in ordered:
        count = _number(instance.get("MainDicomTags", {}).get("NumberOfFrames")) or 1
        frames.extend((str(instance["ID"]), frame) for frame in range(count))
    return frames


def _instance_order(instance: Mapping[str, Any]) -> tuple[int, int, str]:
    number = _number(instance.get("MainDicomTags", {}).get("InstanceNumber"))
    index = instance.get("IndexInSeries")
    return (
        number if number is not None else sys.maxsize,
        index if isinstance(index, int) else 0,
        str(instance.get("ID", "")),
    )


def _number(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def pick_evenly(items: Sequence[Any], limit: int) -> list[Any]:
    """At most ``limit`` items spread evenly over ``items``, first and last included.

    Example:
        >>> pick_evenly(list(range(10)), 4)
        [0, 3, 6, 9]
    """
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[len(items) // 2]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def require_pillow() -> Any:
    """Import Pillow's ``PIL.Image``, or say how to install it.

    Raises:
        MissingDependencyError: Pillow is not installed.
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise MissingDependencyError(
            "series montages need Pillow: pip install 'kkorthanc[images]'"
        ) from error
    return Image


def compose_montage(pictures: Sequence[bytes], *, columns: int, size: int) -> bytes:
    """One PNG grid of pictures, each fitted into a ``size`` x ``size`` black cell.

    Raises:
        MissingDependencyError: Pillow is not installed.
        OrthancInputError: No pictures, or a non-positive size or column count.
        UnexpectedContentError: A picture Pillow cannot read.

    Example:
        >>> png = compose_montage([preview1, preview2], columns=2, size=64)  # doctest: +SKIP
    """
    check_positive("columns", columns)
    check_positive("size", size)
    if not pictures:
        raise OrthancInputError("a montage needs at least one picture")
    image_module = require_pillow()
    columns = min(columns, len(pictures))
    rows = math.ceil(len(pictures) / columns)
    sheet = image_module.new("RGB", (columns * size, rows * size))
    for index, picture in enumerate(pictures):
        tile = _tile(image_module, picture, size)
        left = (index % columns) * size + (size - tile.width) // 2
        top = (index // columns) * size + (size - tile.height) // 2
        sheet.paste(tile, (left, top))
    output = io.BytesIO()
    sheet.save(output, format="PNG")
    return output.getvalue()


def _tile(image_module: Any, picture: bytes, size: int) -> Any:
    try:
        tile = image_module.open(io.BytesIO(picture))
        tile.load()
    except (OSError, ValueError) as error:
        raise UnexpectedContentError(f"the server's picture is not readable: {error}") from error
    tile = tile.convert("RGB")
    tile.thumbnail((size, size))
    return tile
