"""Pictures: the options of Orthanc's image routes, and series montages. No I/O.

Pillow (the ``images`` extra) is needed only to compose montages; it is imported when used.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors import (
    MissingDependencyError,
    OrthancInputError,
    UnexpectedContentError,
    UnsupportedMediaTypeError,
    rebuild_error,
)

__all__ = [
    "UNDECODABLE_KEY",
    "ImageFormat",
    "compose_montage",
    "frame_out_of_range",
    "frame_route",
    "grid_columns",
    "image_options",
    "pick_evenly",
    "require_pillow",
    "series_frames",
    "undecodable_frames",
    "undecodable_reason",
    "with_reason",
]

ImageFormat = Literal["png", "jpeg"]
"""The picture formats Orthanc renders: ``"png"`` (lossless, the default) or ``"jpeg"``."""

_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}

UNDECODABLE_KEY = "Undecodable"
"""The PNG text key of a montage listing the frames drawn as placeholders, one per line."""

_PIXEL_DATA = "7fe0-0010"
_UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}
_PLACEHOLDER_FILL = (72, 24, 24)
_PLACEHOLDER_LINE = (200, 200, 200)


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


def frame_out_of_range(frame: int, instance: Any) -> str | None:
    """Say so when ``frame`` is past the last frame of the instance (``GET /instances/{id}``).

    Example:
        >>> frame_out_of_range(3, {"MainDicomTags": {"NumberOfFrames": "3"}})
        'frame 3 is out of range: the instance has 3 frame(s), numbered from 0'
        >>> frame_out_of_range(0, {"MainDicomTags": {}}) is None
        True
    """
    tags = instance.get("MainDicomTags", {}) if isinstance(instance, dict) else {}
    count = _number(tags.get("NumberOfFrames")) or 1
    if frame < count:
        return None
    return f"frame {frame} is out of range: the instance has {count} frame(s), numbered from 0"


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


def grid_columns(count: int, columns: int | None) -> int:
    """The columns of a montage of ``count`` cells: as asked, or a near-square grid (None).

    Example:
        >>> grid_columns(10, None), grid_columns(64, None), grid_columns(3, 8)
        (4, 8, 8)
    """
    if columns is not None:
        return columns
    return max(1, math.ceil(math.sqrt(count)))


def compose_montage(
    pictures: Sequence[bytes | None],
    *,
    columns: int,
    size: int,
    undecodable: Sequence[str] = (),
) -> bytes:
    """One PNG grid of pictures, each fitted into a ``size`` x ``size`` black cell.

    A picture given as None (a frame the server could not decode) is drawn as a placeholder: a
    dark red cell crossed out. ``undecodable`` lines are written into the PNG as text under
    :data:`UNDECODABLE_KEY`, so the file itself says which frames are missing.

    Raises:
        MissingDependencyError: Pillow is not installed.
        OrthancInputError: No pictures, or a non-positive size or column count.
        UnexpectedContentError: A picture Pillow cannot read.

    Example:
        >>> png = compose_montage([preview1, None], columns=2, size=64)  # doctest: +SKIP
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
        tile = _placeholder(image_module, size) if picture is None else _tile(picture, size)
        left = (index % columns) * size + (size - tile.width) // 2
        top = (index // columns) * size + (size - tile.height) // 2
        sheet.paste(tile, (left, top))
    return _png(sheet, undecodable)


def undecodable_frames(png: bytes) -> list[str]:
    """The lines of a montage's :data:`UNDECODABLE_KEY` entry: one per placeholder cell.

    Raises:
        MissingDependencyError: Pillow is not installed.

    Example:
        >>> undecodable_frames(series.montage())  # doctest: +SKIP
        ['f689ddd2-... frame 0: the server cannot decode transfer syntax JPEG 2000 ...']
    """
    require_pillow()
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        text = getattr(picture, "text", {}).get(UNDECODABLE_KEY, "")
    return [line for line in str(text).split("\n") if line]


def _png(sheet: Any, undecodable: Sequence[str]) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if undecodable:
        info.add_itxt(UNDECODABLE_KEY, "\n".join(undecodable))
    output = io.BytesIO()
    sheet.save(output, format="PNG", pnginfo=info)
    return output.getvalue()


def _tile(picture: bytes, size: int) -> Any:
    from PIL import Image, ImageOps

    try:
        tile = Image.open(io.BytesIO(picture))
        tile.load()
    except (OSError, ValueError) as error:
        raise UnexpectedContentError(f"the server's picture is not readable: {error}") from error
    return ImageOps.contain(tile.convert("RGB"), (size, size))


def _placeholder(image_module: Any, size: int) -> Any:
    from PIL import ImageDraw

    tile = image_module.new("RGB", (size, size), _PLACEHOLDER_FILL)
    draw = ImageDraw.Draw(tile)
    last = size - 1
    draw.line((0, 0, last, last), fill=_PLACEHOLDER_LINE, width=max(1, size // 32))
    draw.line((0, last, last, 0), fill=_PLACEHOLDER_LINE, width=max(1, size // 32))
    return tile


def undecodable_reason(transfer_syntax: str | None, top_level_tags: Any) -> str:
    """Why the server answered 415 to a picture of an instance, and what to do about it.

    Args:
        transfer_syntax: The instance's ``TransferSyntax`` metadata, if known.
        top_level_tags: The answer of ``GET /instances/{id}/content`` (its top-level tags).

    Example:
        >>> undecodable_reason("1.2.840.10008.1.2.4.91", ["7fe0-0010"])[:52]
        'the server cannot decode transfer syntax JPEG 2000 I'
        >>> undecodable_reason("1.2.840.10008.1.2.1", ["0008-0016"])
        'the instance has no Pixel Data (7FE0,0010): there is no picture to show'
    """
    if isinstance(top_level_tags, list) and _PIXEL_DATA not in top_level_tags:
        return "the instance has no Pixel Data (7FE0,0010): there is no picture to show"
    if not transfer_syntax:
        return "the server cannot decode this image (its transfer syntax is unknown)"
    name = _syntax_name(transfer_syntax)
    if transfer_syntax in _UNCOMPRESSED:
        return (
            f"the server cannot render this image's pixel format ({name}); decode it locally "
            "instead: instance.dataset().pixel_array"
        )
    return (
        f"the server cannot decode transfer syntax {name}: install Orthanc's GDCM plugin "
        '(Debian: apt-get install orthanc-gdcm, then list libOrthancGdcm.so in "Plugins"), '
        "or upload the file decompressed (pydicom: dataset.decompress())"
    )


def _syntax_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return f"{name} ({uid})" if name != uid else uid


def with_reason(error: UnsupportedMediaTypeError, reason: str) -> UnsupportedMediaTypeError:
    """A copy of a 415 error whose message ends with the reason and the fix.

    Example:
        >>> error = UnsupportedMediaTypeError(415, "GET", "http://o/instances/i/preview", "x")
        >>> str(with_reason(error, "no pixels"))
        '415 on GET http://o/instances/i/preview: x. no pixels'
    """
    hint = f"{error.hint}. {reason}" if error.hint else reason
    return rebuild_error(error, UnsupportedMediaTypeError, hint=hint)
