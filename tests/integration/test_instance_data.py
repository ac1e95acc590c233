"""Instance data and pictures on real servers: files, datasets, tags, numpy, previews, montages.

Data: pydicom's bundled CT_small.dcm (also rebuilt as a multi-frame file and as a series whose
instances have known brightness), emri_small.dcm (10 frames, no window tags), a generated
120-frame MONOCHROME2 image without window tags, JPEG2000.dcm (which Orthanc 1.10.1 and 1.12.7
cannot decode without the GDCM plugin) and rtplan.dcm (no pixels).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from kkorthanc._dicom.images import undecodable_frames
from kkorthanc.errors import (
    NotFoundError,
    OrthancInputError,
    ServerError,
    UnsupportedMediaTypeError,
)

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"


def sample(name: str) -> bytes:
    path = get_testdata_file(name, download=False)
    assert isinstance(path, str), name
    return Path(path).read_bytes()


def ct(**tags: Any) -> Dataset:
    """CT_small.dcm with new UIDs (unless given) and these tags."""
    dataset = pydicom.dcmread(io.BytesIO(sample("CT_small.dcm")))
    tags.setdefault("SeriesInstanceUID", generate_uid())
    tags.setdefault("SOPInstanceUID", generate_uid())
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset


def to_bytes(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def multi_frame(frames: int) -> bytes:
    """CT_small.dcm as one instance of ``frames`` frames, frame k brighter by 100*k."""
    dataset = ct()
    pixels = dataset.pixel_array
    stack = np.stack([pixels + 100 * k for k in range(frames)]).astype(pixels.dtype)
    dataset.NumberOfFrames = frames
    dataset.PixelData = stack.tobytes()
    return to_bytes(dataset)


def upload(client: Any, data: bytes) -> Any:
    """Store the file and return the instance resource."""
    answer = client.post("instances", data=data)
    return client.instances.get(answer["ID"])


def test_file_and_save_give_the_stored_bytes(client: Any, tmp_path: Path) -> None:
    data = sample("CT_small.dcm")
    instance = upload(client, data)
    assert instance.file() == data
    saved = instance.save(tmp_path)
    assert saved == tmp_path / f"{instance.id}.dcm"
    assert saved.read_bytes() == data
    named = instance.save(tmp_path / "ct.dcm")
    assert named.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([saved.name, "ct.dcm"])


def test_save_of_a_deleted_instance_writes_nothing(client: Any, tmp_path: Path) -> None:
    instance = upload(client, sample("CT_small.dcm"))
    client.delete(("instances", instance.id))
    with pytest.raises(NotFoundError):
        instance.save(tmp_path / "gone.dcm")
    assert list(tmp_path.iterdir()) == []


def test_dataset_with_and_without_pixels(client: Any) -> None:
    data = multi_frame(40)
    instance = upload(client, data)
    full = instance.dataset()
    header = instance.dataset(pixels=False)
    original = pydicom.dcmread(io.BytesIO(data))
    assert full.PixelData == original.PixelData and int(full.NumberOfFrames) == 40
    assert "PixelData" not in header
    before_pixels = [element.tag for element in original if element.tag < 0x7FE00010]
    assert [element.tag for element in header] == before_pixels
    assert header.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert header.SOPInstanceUID == original.SOPInstanceUID


def test_dataset_of_a_file_without_pixels(client: Any) -> None:
    instance = upload(client, sample("rtplan.dcm"))
    header = instance.dataset(pixels=False)
    assert header.Modality == "RTPLAN" and header == instance.dataset()


def test_get_tags_and_get_simplified_tags(client: Any) -> None:
    instance = upload(client, sample("CT_small.dcm"))
    tags = instance.get_tags()
    assert tags["0010,0020"]["Name"] == "PatientID"
    assert tags["0010,0020"]["Value"] == "1CT1"
    simple = instance.get_simplified_tags()
    assert simple["PatientID"] == "1CT1" and simple["Modality"] == "CT"


def test_numpy_of_instances_and_series(client: Any) -> None:
    instance = upload(client, multi_frame(3))
    stored = pydicom.dcmread(io.BytesIO(instance.file()))
    array = instance.numpy(rescale=False)
    assert array.shape == (3, 128, 128, 1)
    assert np.array_equal(array[..., 0], stored.pixel_array)
    rescaled = instance.numpy()
    assert rescaled.dtype.kind == "f" and rescaled.shape == array.shape
    hounsfield = stored.pixel_array * float(stored.RescaleSlope) + float(stored.RescaleIntercept)
    assert np.allclose(rescaled[..., 0], hounsfield)
    volume = client.series.get(instance.parent_id).numpy(rescale=False)
    assert np.array_equal(volume, array)


def test_preview_and_rendered_formats_and_sizes(client: Any) -> None:
    instance = upload(client, multi_frame(3))
    assert instance.preview().startswith(PNG)
    jpeg = instance.preview(image_format="jpeg", quality=40)
    assert jpeg.startswith(JPEG)
    assert len(jpeg) < len(instance.preview(image_format="jpeg", quality=100))
    small = Image.open(io.BytesIO(instance.rendered(width=32, height=32, smooth=True)))
    assert small.format == "PNG" and small.size == (32, 32)
    frames = [instance.rendered(frame=k, window_center=1000, window_width=4000) for k in (0, 2)]
    means = [np.asarray(Image.open(io.BytesIO(png))).mean() for png in frames]
    assert means[0] < means[1]  # frame 2 is brighter by 200
    with pytest.raises(OrthancInputError):
        instance.rendered(image_format="png", quality=50)


def test_undecodable_images_raise_typed_errors(client: Any) -> None:
    if any("gdcm" in name.lower() for name in client.capabilities().plugins):
        pytest.skip("the GDCM plugin decodes JPEG 2000")
    instance = upload(client, sample("JPEG2000.dcm"))
    with pytest.raises(UnsupportedMediaTypeError) as caught:
        instance.preview()
    assert caught.value.status_code == 415
    with pytest.raises(ServerError) as decoding:
        instance.numpy()
    assert "1.2.840.10008.1.2.4.91" in (decoding.value.details or "")


def test_415_names_the_transfer_syntax_and_the_fix(client: Any) -> None:
    if any("gdcm" in name.lower() for name in client.capabilities().plugins):
        pytest.skip("the GDCM plugin decodes JPEG 2000")
    instance = upload(client, sample("JPEG2000.dcm"))
    for picture in (instance.preview, lambda: instance.rendered(width=64, frame=0)):
        with pytest.raises(UnsupportedMediaTypeError) as caught:
            picture()
        message = str(caught.value)
        assert "JPEG 2000" in message and "1.2.840.10008.1.2.4.91" in message
        assert "orthanc-gdcm" in message and "decompress()" in message
    plan = upload(client, sample("rtplan.dcm"))
    with pytest.raises(UnsupportedMediaTypeError, match="no Pixel Data"):
        plan.preview()
    with pytest.raises((NotFoundError, UnsupportedMediaTypeError)) as past_the_end:
        upload(client, sample("CT_small.dcm")).preview(frame=5)
    if past_the_end.value.status_code == 415:  # Orthanc 1.12; 1.10 answers 404
        assert "frame 5 is out of range: the instance has 1 frame(s)" in str(past_the_end.value)


def lit_rows(shape: tuple[int, ...], number: int, dtype: Any) -> Any:
    """Black pixels whose top ``number`` eighths of rows (1 to 7) are white: brighter as it
    grows, whether the picture is windowed or scaled over each frame's own range."""
    pixels = np.zeros(shape, dtype=dtype)
    pixels[..., : shape[-2] * number // 8, :] = 1000
    return pixels


def brightness_series(client: Any, numbers: list[int]) -> Any:
    """A series of CT instances, each brighter as its InstanceNumber (1 to 7) grows."""
    series_uid, study_uid = generate_uid(), generate_uid()
    for number in numbers:
        dataset = ct(StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid)
        dataset.InstanceNumber = number
        dataset.WindowCenter, dataset.WindowWidth = 1000, 4000
        pixels = dataset.pixel_array
        dataset.PixelData = lit_rows(pixels.shape, number, pixels.dtype).tobytes()
        last = upload(client, to_bytes(dataset))
    return client.series.get(last.parent_id)


def cell_means(png: bytes, size: int) -> list[float]:
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    rows, columns = sheet.shape[0] // size, sheet.shape[1] // size
    return [
        sheet[r * size : (r + 1) * size, c * size : (c + 1) * size].mean()
        for r in range(rows)
        for c in range(columns)
    ]


def test_montage_orders_frames_by_instance_number(client: Any, tmp_path: Path) -> None:
    series = brightness_series(client, [3, 1, 2])  # stored out of order
    png = series.montage(columns=2, size=16)
    assert Image.open(io.BytesIO(png)).size == (32, 32)
    first, second, third, empty = cell_means(png, 16)
    assert first < second < third and empty == 0
    written = series.preview_montage(tmp_path / "series.png", columns=3, size=16)
    assert written == tmp_path / "series.png"
    assert Image.open(io.BytesIO(written.read_bytes())).size == (48, 16)
    assert Image.open(io.BytesIO(series.montage(columns=8, max_frames=2, size=8))).size == (16, 8)
    assert [p.name for p in tmp_path.iterdir()] == ["series.png"]


def generated_frames(frames: int, size: int = 64) -> bytes:
    """One MONOCHROME2 uint16 instance of ``frames`` frames, no window tags, values up to 3000.

    Frame k has its top k/(frames-1) of rows lit (a gradient), so the frames differ and are
    far below the 16-bit range that a renderer without window tags would stretch to.
    """
    dataset = ct()
    for keyword in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
        if keyword in dataset:
            delattr(dataset, keyword)
    rows = np.arange(size, dtype=np.uint16)[:, None] * (3000 // size)
    stack = np.repeat(np.tile(rows, (1, size))[None], frames, axis=0)
    for k in range(frames):
        stack[k, size * k // max(1, frames - 1) :, :] //= 4
    dataset.Rows = dataset.Columns = size
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
    dataset.PixelRepresentation = 0
    dataset.NumberOfFrames = frames
    dataset.PixelData = stack.astype(np.uint16).tobytes()
    return to_bytes(dataset)


def test_montage_shows_every_frame_of_multi_frame_instances(client: Any, tmp_path: Path) -> None:
    dataset = ct()
    pixels = dataset.pixel_array
    dataset.NumberOfFrames = 4
    frames = [lit_rows(pixels.shape, k, pixels.dtype) for k in (1, 2, 3, 4)]
    dataset.PixelData = np.stack(frames).tobytes()
    instance = upload(client, to_bytes(dataset))
    series = client.series.get(instance.parent_id)
    written = series.preview_montage(tmp_path, columns=4, size=16)
    assert written == tmp_path / f"{series.id}.png"
    means = cell_means(written.read_bytes(), 16)
    assert len(means) == 4 and means == sorted(means) and means[0] < means[3]


def test_montage_of_one_multi_frame_instance_is_a_near_square_grid(client: Any) -> None:
    emri = client.series.get(upload(client, sample("emri_small.dcm")).parent_id)
    assert Image.open(io.BytesIO(emri.montage(size=16))).size == (4 * 16, 3 * 16)  # 10 frames
    big = client.series.get(upload(client, generated_frames(120)).parent_id)
    assert Image.open(io.BytesIO(big.montage(size=8))).size == (8 * 8, 8 * 8)  # 64 of 120


def tile_and_preview_means(series: Any, instance: Any, frames: list[int]) -> list[Any]:
    """(tile mean, preview mean) for each frame, the preview fitted to the tile's size."""
    size = 32
    png = series.montage(columns=len(frames), size=size, max_frames=len(frames))
    pairs = []
    for tile_mean, frame in zip(cell_means(png, size), frames, strict=True):
        preview = Image.open(io.BytesIO(instance.preview(frame=frame))).convert("L")
        fitted = np.asarray(preview.resize((size, size)), dtype=float)
        pairs.append((tile_mean, fitted.mean()))
    return pairs


def test_montage_tiles_look_like_previews_without_window_tags(client: Any) -> None:
    generated = upload(client, generated_frames(120))
    series = client.series.get(generated.parent_id)
    # pick_evenly(120 frames, 4) shows frames 0, 40, 79 and 119
    for tile, preview in tile_and_preview_means(series, generated, [0, 40, 79, 119]):
        assert preview > 40  # scaled over the frame's own range: not dark
        assert abs(tile - preview) < 4
    emri = upload(client, sample("emri_small.dcm"))  # real data, no window tags
    emri_series = client.series.get(emri.parent_id)
    for tile, preview in tile_and_preview_means(emri_series, emri, [0, 9]):
        assert preview > 40 and abs(tile - preview) < 4


def test_undecodable_frame_is_a_placeholder_named_in_the_result(
    client: Any, tmp_path: Path
) -> None:
    if any("gdcm" in name.lower() for name in client.capabilities().plugins):
        pytest.skip("the GDCM plugin decodes JPEG 2000")
    series = brightness_series(client, [1, 3])
    jpeg2000 = pydicom.dcmread(io.BytesIO(sample("JPEG2000.dcm")))
    jpeg2000.PatientID = "1CT1"  # CT_small's
    jpeg2000.StudyInstanceUID = series.study().study_instance_uid
    jpeg2000.SeriesInstanceUID = series.series_instance_uid
    jpeg2000.InstanceNumber = 2
    undecodable = upload(client, to_bytes(jpeg2000))
    assert undecodable.parent_id == series.id
    written = series.preview_montage(tmp_path, columns=3, size=16)
    png = written.read_bytes()
    (note,) = undecodable_frames(png)
    assert note.startswith(f"{undecodable.id} frame 0: ")
    assert "1.2.840.10008.1.2.4.91" in note and "orthanc-gdcm" in note
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    lit, placeholder, brighter = (sheet[:, 16 * c : 16 * (c + 1)] for c in range(3))
    assert placeholder[..., 0].mean() > placeholder[..., 1].mean() + 20  # dark red, crossed
    assert 0 < lit.mean() < brighter.mean()


def test_jupyter_pictures_only_on_sync_classes(client: Any, client_kind: str) -> None:
    instance = upload(client, sample("CT_small.dcm"))
    series = client.series.get(instance.parent_id)
    undecodable = upload(client, sample("rtplan.dcm"))
    if client_kind == "sync":
        assert instance._repr_png_().startswith(PNG)
        assert series._repr_png_().startswith(PNG)
    else:
        assert instance._repr_png_() is None and series._repr_png_() is None
    assert undecodable._repr_png_() is None  # never raises
    html = instance._repr_html_()
    assert instance.id in html and instance.sop_instance_uid in html
