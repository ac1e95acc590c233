"""Instance data (file, dataset, tags, numpy, pictures) and series montages: resource mixins.

The asynchronous code is the source; ``scripts/unasync.py`` writes the synchronous copy from it.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._core.seam import AsyncSeam
from ..._dicom.header import HeaderReader, parse_dicom
from ..._dicom.images import (
    ImageFormat,
    check_positive,
    compose_montage,
    frame_out_of_range,
    frame_route,
    grid_columns,
    image_options,
    pick_evenly,
    require_pillow,
    series_frames,
    undecodable_reason,
    with_reason,
)
from ..._util.atomic_file import AtomicFile, target_file
from ..._view.display import png_or_none
from ...errors import MissingDependencyError, UnexpectedContentError, UnsupportedMediaTypeError
from ._resource import AsyncResource
from ._save import save_body

if TYPE_CHECKING:
    import numpy.typing as npt
    from pydicom.dataset import Dataset


__all__ = ["AsyncInstanceData", "AsyncSeriesImages"]

logger = logging.getLogger("kkorthanc")


class AsyncInstanceData(AsyncResource):
    """The content of an instance: its DICOM file, dataset, tags, pixels and pictures.

    Mixed into :class:`~kkorthanc.AsyncInstance`.

    Example:
        >>> instance = await client.instances.get(instance_id)  # doctest: +SKIP
        >>> header = await instance.dataset(pixels=False)  # doctest: +SKIP
        >>> png = await instance.rendered(width=256)  # doctest: +SKIP
    """

    async def file(self) -> bytes:
        """The stored DICOM file, as bytes (``GET /instances/{id}/file``).

        Use :meth:`save` for large files: it streams to disk.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> data = await instance.file()  # doctest: +SKIP
            >>> data[128:132]  # doctest: +SKIP
            b'DICM'
        """
        return await self.client.get_bytes(self.path("file"))

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Stream the DICOM file to ``path`` (or to ``<orthanc_id>.dcm`` inside a folder).

        The status is checked before anything is written; the bytes go to a temporary file in
        the same folder, renamed over the target only once complete, so a failed download never
        leaves a partial or an error page behind.

        Returns:
            The path of the written file.

        Raises:
            NotFoundError: The instance no longer exists (nothing is written).
            OrthancTransportError: The connection broke (the temporary file is removed).
            OSError: The folder is not writable.

        Example:
            >>> await instance.save("exports/")  # doctest: +SKIP
            PosixPath('exports/f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af.dcm')
        """
        target = target_file(path, f"{self.id}.dcm")
        async with self.client.stream("GET", self.path("file")) as response:
            return await save_body(response, target)

    async def dataset(self, *, pixels: bool = True) -> Dataset:
        """The instance as a pydicom ``Dataset``, parsed from the stored file.

        Args:
            pixels: False to stop before the pixel data. The file is then streamed and the
                download closed as soon as the Pixel Data element is reached, so the pixel data
                is not transferred (apart from what the network already buffered). The result is
                the exact header of the stored file, file meta included, unlike
                :meth:`get_tags`, which is Orthanc's JSON rendering without VRs or long values.

        Raises:
            NotFoundError: The instance no longer exists.
            UnexpectedContentError: The stored file is not readable by pydicom.

        Example:
            >>> header = await instance.dataset(pixels=False)  # doctest: +SKIP
            >>> header.PatientID, "PixelData" in header  # doctest: +SKIP
            ('1CT1', False)
        """
        if pixels:
            return parse_dicom(await self.file())
        reader = HeaderReader()
        async with self.client.stream("GET", self.path("file")) as response:
            async for chunk in response.aiter_bytes():
                dataset = reader.feed(chunk)
                if dataset is not None:
                    logger.debug("%r: header read from the first %d bytes", self, reader.received)
                    return dataset
        return reader.finish()

    async def get_tags(self) -> dict[str, Any]:
        """All tags as Orthanc renders them (``/tags``): ``{"0010,0010": {"Name", "Type",
        "Value"}}``, sequences nested.

        A request for every tag of the file; ``main_tag()`` and ``main_tags`` read the main
        tags the resource was fetched with, without one.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> (await instance.get_tags())["0010,0020"]["Value"]  # doctest: +SKIP
            '1CT1'
        """
        return _object(await self.get("tags"), "tags")

    async def get_simplified_tags(self) -> dict[str, Any]:
        """All tags as keyword to value (``/tags?simplify``); sequences are lists of dicts.

        Raises:
            NotFoundError: The instance no longer exists.

        Example:
            >>> (await instance.get_simplified_tags())["PatientID"]  # doctest: +SKIP
            '1CT1'
        """
        return _object(await self.get("tags", params={"simplify": True}), "simplified tags")

    async def numpy(self, *, rescale: bool = True) -> npt.NDArray[Any]:
        """The decoded pixels as a numpy array of shape (frames, rows, columns, channels).

        Decoded by the server (``/instances/{id}/numpy``, Orthanc 1.10 and later).

        Args:
            rescale: Apply RescaleSlope and RescaleIntercept to grayscale images, giving floats
                (e.g. Hounsfield units), as the server does by default; False for the stored
                values, in their own integer type.

        Raises:
            MissingDependencyError: numpy is not installed (``pip install 'kkorthanc[numpy]'``).
            UnsupportedFeatureError: The server is older than Orthanc 1.10.
            ServerError: The server cannot decode the image (e.g. JPEG 2000 without the GDCM
                plugin, or an instance without pixels); Orthanc answers 500 with details.

        Example:
            >>> (await instance.numpy()).shape  # doctest: +SKIP
            (1, 128, 128, 1)
        """
        return await _numpy_of(self, "instance.numpy()", rescale=rescale)

    async def preview(
        self,
        *,
        image_format: ImageFormat = "png",
        quality: int | None = None,
        frame: int | None = None,
    ) -> bytes:
        """A picture of the instance scaled to 8 bits over its full range (``/preview``).

        Args:
            image_format: ``"png"`` or ``"jpeg"``.
            quality: JPEG quality from 1 to 100 (JPEG only; the server's default is 90).
            frame: A frame index from 0, for multi-frame instances; the first by default.

        Returns:
            The PNG or JPEG bytes.

        Raises:
            OrthancInputError: A bad format, quality or frame.
            UnsupportedMediaTypeError: The server cannot decode the image (JPEG 2000 without
                the GDCM plugin, an instance without pixels; Orthanc 1.12 also answers 415 for
                a frame out of range). The message names the transfer syntax and the fix.
            NotFoundError: The instance does not exist (Orthanc 1.10 also answers 404 for a
                frame out of range).

        Example:
            >>> Path("ct.png").write_bytes(await instance.preview())  # doctest: +SKIP
        """
        headers, params = image_options(image_format, quality)
        route = frame_route(frame, "preview")
        return await _picture(self, route, params, headers, frame)

    async def rendered(
        self,
        *,
        width: int | None = None,
        height: int | None = None,
        smooth: bool = False,
        window_center: float | None = None,
        window_width: float | None = None,
        image_format: ImageFormat = "png",
        quality: int | None = None,
        frame: int | None = None,
    ) -> bytes:
        """A picture rendered with the file's windowing and rescaling (``/rendered``), resized.

        Args:
            width: The width in pixels to fit into (the aspect ratio is kept).
            height: The height in pixels to fit into.
            smooth: Smooth the image when resizing.
            window_center: A window center overriding the file's.
            window_width: A window width overriding the file's.
            image_format: ``"png"`` or ``"jpeg"``.
            quality: JPEG quality from 1 to 100 (JPEG only).
            frame: A frame index from 0; the first by default.

        Raises:
            OrthancInputError: A bad size, format, quality or frame.
            UnsupportedMediaTypeError: The server cannot decode the image; the message names
                the transfer syntax and the fix.
            NotFoundError: The instance does not exist.

        Example:
            >>> jpeg = await instance.rendered(width=256, image_format="jpeg", quality=80)
            ... # doctest: +SKIP
        """
        check_positive("width", width)
        check_positive("height", height)
        headers, params = image_options(image_format, quality)
        query: dict[str, Any] = {
            "width": width,
            "height": height,
            "smooth": smooth,
            "window-center": window_center,
            "window-width": window_width,
            **params,
        }
        route = frame_route(frame, "rendered")
        return await _picture(self, route, query, headers, frame)

    def _repr_png_(self) -> bytes | None:
        """Jupyter's thumbnail (sync classes only): the preview, or None if there is none."""
        return png_or_none(self.preview)


class AsyncSeriesImages(AsyncResource):
    """Pictures and pixels of a whole series: montages and numpy volumes.

    Mixed into :class:`~kkorthanc.AsyncSeries`.

    Example:
        >>> series = await client.series.get(series_id)  # doctest: +SKIP
        >>> await series.preview_montage("series.png", columns=6)  # doctest: +SKIP
    """

    async def numpy(self, *, rescale: bool = True) -> npt.NDArray[Any]:
        """The decoded frames of every instance, stacked: (frames, rows, columns, channels).

        Decoded by the server (``/series/{id}/numpy``, Orthanc 1.10 and later).

        Args:
            rescale: Apply RescaleSlope and RescaleIntercept to grayscale images, giving floats
                (e.g. Hounsfield units), as the server does by default; False for the stored
                values, in their own integer type.

        Raises:
            MissingDependencyError: numpy is not installed (``pip install 'kkorthanc[numpy]'``).
            UnsupportedFeatureError: The server is older than Orthanc 1.10.
            ServerError: The server cannot decode an image, or the frames differ in size.

        Example:
            >>> (await series.numpy()).shape  # doctest: +SKIP
            (1, 128, 128, 1)
        """
        return await _numpy_of(self, "series.numpy()", rescale=rescale)

    async def montage(
        self, *, columns: int | None = None, size: int = 128, max_frames: int = 64
    ) -> bytes:
        """One PNG grid of the series' frames, in InstanceNumber order.

        Frames, not instances, are laid out: a series of one multi-frame instance gives a
        grid of its frames. Each cell is the frame's :meth:`~AsyncInstanceData.preview`
        (scaled over its own full range, so images without window tags are not dark),
        fitted into a ``size`` x ``size`` square (one request per frame). Series with more
        frames show ``max_frames`` of them, spread evenly from the first to the last.

        A frame the server cannot decode (answer 415, e.g. JPEG 2000 without the GDCM
        plugin) is drawn as a crossed-out dark red cell. The PNG then carries a text entry,
        ``"Undecodable"``, with one line per such frame: the instance ID, the frame and the
        reason with its fix; a warning is also logged on the ``kkorthanc`` logger.

        Args:
            columns: Cells per row; None (the default) for a near-square grid.
            size: The side of a cell, in pixels.
            max_frames: The most frames to show.

        Raises:
            MissingDependencyError: Pillow is not installed (``pip install 'kkorthanc[images]'``).
            OrthancInputError: A non-positive columns, size or max_frames.

        Example:
            >>> png = await series.montage(size=96)  # doctest: +SKIP
            >>> from PIL import Image  # doctest: +SKIP
            >>> Image.open(io.BytesIO(png)).text.get("Undecodable")  # doctest: +SKIP
            'f689ddd2-... frame 0: the server cannot decode transfer syntax JPEG 2000 ...'
        """
        check_positive("max_frames", max_frames)
        check_positive("columns", columns)
        check_positive("size", size)
        require_pillow()
        frames = pick_evenly(series_frames(await self.get("instances")), max_frames)
        pictures: list[bytes | None] = []
        reasons: dict[str, str] = {}
        for instance_id, frame in frames:
            pictures.append(await self._frame_picture(instance_id, frame, reasons))
        notes = _undecodable_notes(frames, pictures, reasons)
        columns = grid_columns(len(pictures), columns)
        return compose_montage(pictures, columns=columns, size=size, undecodable=notes)

    async def preview_montage(
        self,
        path: str | os.PathLike[str],
        *,
        columns: int | None = None,
        size: int = 128,
        max_frames: int = 64,
    ) -> Path:
        """Write :meth:`montage` to ``path`` (a PNG file, or ``<orthanc_id>.png`` in a folder).

        The file is written only once the montage is complete (temporary file, then rename).
        Frames the server cannot decode are placeholders, listed in the PNG's
        ``"Undecodable"`` text entry (see :meth:`montage`).

        Returns:
            The path of the written PNG.

        Raises:
            MissingDependencyError: Pillow is not installed (``pip install 'kkorthanc[images]'``).
            OrthancInputError: A non-positive columns, size or max_frames.
            OSError: The folder is not writable.

        Example:
            >>> await series.preview_montage("series.png")  # doctest: +SKIP
            PosixPath('series.png')
        """
        png = await self.montage(columns=columns, size=size, max_frames=max_frames)
        target = target_file(path, f"{self.id}.png")
        with AtomicFile(target) as sink:
            sink.write(png)
        return target

    async def _frame_picture(
        self, instance_id: str, frame: int, reasons: dict[str, str]
    ) -> bytes | None:
        """The frame's preview, or None (its reason kept in ``reasons``) if undecodable."""
        route = ("instances", instance_id, "frames", str(frame), "preview")
        try:
            return await self.client.get_bytes(route, headers={"Accept": "image/png"})
        except UnsupportedMediaTypeError:
            if instance_id not in reasons:
                reasons[instance_id] = await _reason(self.client, instance_id)
                logger.warning(
                    "%r: instance %s cannot be shown: %s", self, instance_id, reasons[instance_id]
                )
            return None

    def _repr_png_(self) -> bytes | None:
        """Jupyter's thumbnail (sync classes only): a small montage, or None if there is none."""
        return png_or_none(self.montage, columns=4, size=96, max_frames=16)


async def _picture(
    instance: AsyncInstanceData,
    route: str,
    params: dict[str, Any],
    headers: dict[str, str],
    frame: int | None,
) -> bytes:
    """A picture route's bytes; a 415 is raised again with its reason and fix."""
    client = instance.client
    try:
        return await client.get_bytes(
            instance.path(*route.split("/")), params=params, headers=headers
        )
    except UnsupportedMediaTypeError as error:
        reason = None
        if frame is not None:  # Orthanc 1.12 answers 415 to a frame out of range
            reason = frame_out_of_range(frame, await client.get(instance.path()))
        raise with_reason(error, reason or await _reason(client, instance.id)) from error


async def _reason(client: AsyncSeam, instance_id: str) -> str:
    """Why the server cannot picture this instance (two small requests)."""
    metadata = await client.get(("instances", instance_id, "metadata"), params={"expand": True})
    syntax = metadata.get("TransferSyntax") if isinstance(metadata, dict) else None
    top_level = await client.get(("instances", instance_id, "content"))
    return undecodable_reason(syntax if isinstance(syntax, str) else None, top_level)


def _undecodable_notes(
    frames: list[tuple[str, int]], pictures: list[bytes | None], reasons: dict[str, str]
) -> list[str]:
    return [
        f"{instance_id} frame {frame}: {reasons[instance_id]}"
        for (instance_id, frame), picture in zip(frames, pictures, strict=True)
        if picture is None
    ]


async def _numpy_of(resource: AsyncResource, purpose: str, *, rescale: bool) -> npt.NDArray[Any]:
    numpy_module = _require_numpy()
    (await resource.client.capabilities()).require("numpy", purpose)
    # Sent as text either way: the server's default is true, so False must be said.
    flag = "true" if rescale else "false"
    data = await resource.client.get_bytes(resource.path("numpy"), params={"rescale": flag})
    try:
        array: npt.NDArray[Any] = numpy_module.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise UnexpectedContentError(f"the server's .npy answer is unreadable: {error}") from error
    return array


def _require_numpy() -> Any:
    try:
        import numpy
    except ImportError as error:
        raise MissingDependencyError(
            "numpy() needs numpy: pip install 'kkorthanc[numpy]'"
        ) from error
    return numpy


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnexpectedContentError(f"expected the {what} as an object, got {value!r:.200}")
    return value
