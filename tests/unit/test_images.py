"""Pure helpers of instance data, pictures and annotations; header streaming on a mock server."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

import kkorthanc
from kkorthanc._client._async._resources import AsyncInstance, AsyncPatient, AsyncStudy
from kkorthanc._client._sync._resources import Instance, Series
from kkorthanc._core.models.annotations import AttachmentInfo, ResourceStatistics
from kkorthanc._dicom.header import HeaderReader, parse_dicom
from kkorthanc._dicom.images import (
    compose_montage,
    frame_out_of_range,
    frame_route,
    grid_columns,
    image_options,
    pick_evenly,
    series_frames,
    undecodable_frames,
    undecodable_reason,
    with_reason,
)
from kkorthanc._util.atomic_file import AtomicFile, target_file
from kkorthanc._view.display import html_table, png_or_none
from kkorthanc.errors import OrthancInputError, UnexpectedContentError, UnsupportedMediaTypeError

CHUNK = 16 * 1024


def big_ct(frames: int = 40) -> bytes:
    """CT_small.dcm made multi-frame: 40 frames of 128x128 16-bit pixels (about 1.3 MB)."""
    path = get_testdata_file("CT_small.dcm", download=False)
    assert isinstance(path, str)
    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array
    dataset.NumberOfFrames = frames
    dataset.PixelData = np.stack([pixels + i for i in range(frames)]).astype(pixels.dtype).tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


class CountingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body served in chunks, counting how many the client pulled."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pulled = 0

    def _chunks(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), CHUNK):
            self.pulled += 1
            yield self.data[start : start + CHUNK]

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks():
            yield chunk


def serving(data: bytes) -> tuple[httpx.MockTransport, CountingStream]:
    stream = CountingStream(data)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/instances/i/file"
        return httpx.Response(200, stream=stream, headers={"Content-Type": "application/dicom"})

    return httpx.MockTransport(handler), stream


def test_header_without_pixels_stops_the_download_early_sync() -> None:
    data = big_ct()
    transport, stream = serving(data)
    with kkorthanc.Orthanc("http://orthanc.test", transport=transport) as client:
        header = Instance(client, "i").dataset(pixels=False)
    assert "PixelData" not in header
    assert header.PatientID == parse_dicom(data).PatientID
    assert header.NumberOfFrames == 40
    assert stream.pulled * CHUNK < len(data) // 10  # 1 of ~80 chunks, not the pixel data


def test_header_without_pixels_stops_the_download_early_async() -> None:
    data = big_ct()
    transport, stream = serving(data)

    async def run() -> Dataset:
        async with kkorthanc.AsyncOrthanc("http://orthanc.test", transport=transport) as client:
            return await AsyncInstance(client, "i").dataset(pixels=False)

    header = asyncio.run(run())
    assert "PixelData" not in header and header.Rows == 128
    assert stream.pulled * CHUNK < len(data) // 10


def test_header_reader_waits_for_the_pixel_data_tag() -> None:
    data = big_ct(frames=2)
    reader = HeaderReader()
    assert reader.feed(data[:3000]) is None  # the header is longer than this
    dataset = reader.feed(data[3000:20000])
    assert dataset is not None and "PixelData" not in dataset
    assert dataset.SOPInstanceUID == parse_dicom(data).SOPInstanceUID


def test_header_reader_finishes_files_without_pixels() -> None:
    path = get_testdata_file("rtplan.dcm", download=False)
    assert isinstance(path, str)
    data = Path(path).read_bytes()
    reader = HeaderReader()
    assert reader.feed(data) is None  # shorter than the first try: wait for the end
    assert reader.finish().Modality == "RTPLAN"


def test_non_dicom_bytes_raise_unexpected_content() -> None:
    with pytest.raises(UnexpectedContentError):
        parse_dicom(b"<html>not found</html>")
    reader = HeaderReader()
    reader.feed(b"x" * 100)
    with pytest.raises(UnexpectedContentError):
        reader.finish()


def test_image_options_validate_before_any_request() -> None:
    assert image_options("png", None) == ({"Accept": "image/png"}, {})
    assert image_options("JPEG", 75) == ({"Accept": "image/jpeg"}, {"quality": 75})
    for image_format, quality in [("gif", None), ("png", 80), ("jpeg", 0), ("jpeg", 101)]:
        with pytest.raises(OrthancInputError):
            image_options(image_format, quality)
    assert frame_route(None, "preview") == "preview"
    assert frame_route(3, "rendered") == "frames/3/rendered"
    with pytest.raises(OrthancInputError):
        frame_route(-1, "preview")


def test_series_frames_follow_instance_numbers_and_frame_counts() -> None:
    instances = [
        {"ID": "c", "MainDicomTags": {"InstanceNumber": "10"}, "IndexInSeries": 1},
        {"ID": "a", "MainDicomTags": {"InstanceNumber": "2", "NumberOfFrames": "3"}},
        {"ID": "x", "MainDicomTags": {}},
    ]
    assert series_frames(instances) == [("a", 0), ("a", 1), ("a", 2), ("c", 0), ("x", 0)]
    with pytest.raises(UnexpectedContentError):
        series_frames({"ID": "a"})


def test_pick_evenly_keeps_first_and_last() -> None:
    assert pick_evenly(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert pick_evenly([1, 2], 5) == [1, 2]
    assert pick_evenly([1, 2, 3], 1) == [2]


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), color).save(output, format="PNG")
    return output.getvalue()


def test_montage_is_a_grid_of_fitted_cells() -> None:
    pictures = [png(64, 32, (255, 0, 0)), png(10, 10, (0, 255, 0)), png(40, 40, (0, 0, 255))]
    sheet = Image.open(io.BytesIO(compose_montage(pictures, columns=2, size=32)))
    assert sheet.size == (64, 64) and sheet.format == "PNG"
    assert sheet.getpixel((16, 16)) == (255, 0, 0)  # 64x32 fitted into 32x16, centred
    assert sheet.getpixel((48, 16)) == (0, 255, 0)
    assert sheet.getpixel((16, 48)) == (0, 0, 255)
    assert sheet.getpixel((48, 48)) == (0, 0, 0)  # the empty cell
    with pytest.raises(OrthancInputError):
        compose_montage([], columns=2, size=32)
    with pytest.raises(UnexpectedContentError):
        compose_montage([b"not a picture"], columns=1, size=8)


def test_montage_grid_is_near_square_unless_columns_are_given() -> None:
    assert [grid_columns(n, None) for n in (1, 2, 4, 5, 10, 64, 120)] == [1, 2, 2, 3, 4, 8, 11]
    assert grid_columns(10, 3) == 3


def test_undecodable_pictures_are_placeholders_listed_in_the_png() -> None:
    notes = ["abc frame 2: the server cannot decode transfer syntax X"]
    data = compose_montage([png(8, 8, (0, 0, 255)), None], columns=2, size=16, undecodable=notes)
    sheet = Image.open(io.BytesIO(data))
    assert sheet.getpixel((8, 8)) == (0, 0, 255)
    red, green, _ = sheet.getpixel((16 + 12, 4))  # off the cross: the dark red fill
    assert red > green + 20
    assert undecodable_frames(data) == notes
    assert undecodable_frames(compose_montage([png(8, 8, (1, 1, 1))], columns=1, size=8)) == []


def test_415_reasons_name_the_transfer_syntax_and_the_fix() -> None:
    jpeg2000 = undecodable_reason("1.2.840.10008.1.2.4.91", ["0008-0016", "7fe0-0010"])
    assert "JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)" in jpeg2000
    assert "orthanc-gdcm" in jpeg2000 and "decompress()" in jpeg2000
    assert "no Pixel Data" in undecodable_reason("1.2.840.10008.1.2.1", ["0008-0016"])
    assert "pixel_array" in undecodable_reason("1.2.840.10008.1.2.1", ["7fe0-0010"])
    assert "unknown" in undecodable_reason(None, ["7fe0-0010"])
    assert frame_out_of_range(1, {"MainDicomTags": {}}) == (
        "frame 1 is out of range: the instance has 1 frame(s), numbered from 0"
    )
    assert frame_out_of_range(9, {"MainDicomTags": {"NumberOfFrames": "10"}}) is None
    error = UnsupportedMediaTypeError(415, "GET", "http://o/instances/i/preview", "Unsupported")
    explained = with_reason(error, jpeg2000)
    assert isinstance(explained, UnsupportedMediaTypeError) and explained.status_code == 415
    assert str(explained).endswith(jpeg2000) and explained.url == error.url


def test_statistics_sizes_become_integers() -> None:
    stats = ResourceStatistics.from_json(
        {"CountInstances": 2, "DiskSize": "10", "UncompressedSize": "20", "DiskSizeMB": 0}
    )
    assert (stats.disk_size, stats.uncompressed_size, stats.count_instances) == (10, 20, 2)
    assert stats.count_studies is None and stats.dicom_disk_size is None
    with pytest.raises(UnexpectedContentError):
        ResourceStatistics.from_json({"DiskSize": "ten", "UncompressedSize": "1"})
    sizes = {"ContentType": 1025, "UncompressedSize": "5", "CompressedSize": 5}
    info = AttachmentInfo.from_json("1025", sizes)
    assert info.content_type == 1025 and info.uncompressed_size == 5 and info.etag is None
    with pytest.raises(UnexpectedContentError):
        AttachmentInfo.from_json("1025", {"ContentType": 1025})


def test_html_table_escapes_and_needs_no_network() -> None:
    raw = {"MainDicomTags": {"PatientName": "<b>Doe^J</b>"}, "Labels": ["x"]}
    table = html_table("Patient", "abc", raw)
    assert "&lt;b&gt;Doe^J&lt;/b&gt;" in table and "<b>Doe" not in table
    assert "Labels" in table and table.startswith("<table>")
    study = AsyncStudy(kkorthanc.AsyncOrthanc("http://orthanc.test"), "s1", raw)
    assert "s1" in study._repr_html_()


def test_png_for_display_is_none_for_coroutines_and_failures() -> None:
    async def picture() -> bytes:
        return b"png"

    def failing() -> bytes:
        raise kkorthanc.NotFoundError(404, "GET", "http://x/instances/i/preview", "gone")

    assert png_or_none(picture) is None
    assert png_or_none(failing) is None
    assert png_or_none(lambda: b"png") == b"png"


def test_annotation_inputs_are_checked_before_any_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    client = kkorthanc.Orthanc("http://orthanc.test", transport=httpx.MockTransport(handler))
    instance = Instance(client, "i")
    for call in (
        lambda: instance.set_metadata("", "x"),
        lambda: instance.set_metadata(1025, 3),  # type: ignore[arg-type]
        lambda: instance.set_attachment(1025, "text"),  # type: ignore[arg-type]
        lambda: instance.set_label("a b"),
        lambda: instance.set_label("x" * 65),
        lambda: instance.is_protected(),
        lambda: instance.rendered(width=0),
        lambda: instance.preview(image_format="gif"),  # type: ignore[arg-type]
    ):
        with pytest.raises(OrthancInputError):
            call()
    patient = AsyncPatient(kkorthanc.AsyncOrthanc("http://orthanc.test"), "p")
    with pytest.raises(OrthancInputError):
        asyncio.run(patient.set_protected("yes"))  # type: ignore[arg-type]


def test_atomic_file_leaves_nothing_on_failure(tmp_path: Path) -> None:
    assert target_file(tmp_path, "a.dcm") == tmp_path / "a.dcm"
    assert target_file(tmp_path / "b.dcm", "a.dcm") == tmp_path / "b.dcm"

    def broken_download() -> None:
        with AtomicFile(tmp_path / "x.dcm") as sink:
            sink.write(b"partial")
            raise RuntimeError("broken download")

    with pytest.raises(RuntimeError):
        broken_download()
    assert list(tmp_path.iterdir()) == []
    with AtomicFile(tmp_path / "x.dcm") as sink:
        sink.write(b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["x.dcm"]
    assert (tmp_path / "x.dcm").read_bytes() == b"whole"


def old_server(request: httpx.Request) -> httpx.Response:
    answers: dict[str, object] = {"/system": {"Version": "1.9.7", "ApiVersion": 9}, "/plugins": []}
    if request.url.path not in answers:
        raise AssertionError(f"no request expected, got {request.url}")
    return httpx.Response(200, json=answers[request.url.path])


def test_numpy_and_labels_are_refused_by_older_servers() -> None:
    client = kkorthanc.Orthanc("http://orthanc.test", transport=httpx.MockTransport(old_server))
    instance = Instance(client, "i")
    with pytest.raises(kkorthanc.errors.UnsupportedFeatureError, match=r"1\.9\.7"):
        instance.numpy()
    with pytest.raises(kkorthanc.errors.UnsupportedFeatureError):
        instance.set_label("reviewed")
    with pytest.raises(kkorthanc.errors.UnsupportedFeatureError):
        instance.attachment_info("dicom")


def test_missing_optional_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    client = kkorthanc.Orthanc("http://orthanc.test", transport=httpx.MockTransport(old_server))
    monkeypatch.setitem(sys.modules, "numpy", None)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"kkorthanc\[numpy\]"):
        Instance(client, "i").numpy()
    with pytest.raises(ImportError, match=r"kkorthanc\[images\]"):
        Series(client, "s").montage()
