"""Requests and time to list a whole tree with its main tags: KkOrthanc's tree() versus pyorthanc.

Run it in the benchmarks' own environment (pyorthanc is installed there only)::

    bash benchmarks/setup.sh
    benchmarks/.env/bin/python benchmarks/tree_requests.py [--chroot /var/cache/kkorthanc/trixie]

It starts a throw-away Orthanc running the KkOrthanc server plugin, fills it with copies of
pydicom's CT_small.dcm under new UIDs (3 patients / 6 studies / 12 series / 36 instances, then 100
times that), lists the tree with each client, counts the HTTP requests each sends (an httpx event
hook on all) and prints a Markdown table. KkOrthanc runs twice: forced to the plain REST API
(``use_kk_plugin=False``) and through the plugin (detected by ``capabilities()``, whose requests,
once per client, are counted apart). Each figure is the best of ``--repeat`` runs, each run with a
new client.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

import kkorthanc
from kkorthanc._launcher import OrthancBinary
from kkorthanc.plugin import script_path
from kkorthanc.testing import OrthancServer

SIZES = {
    "1x": (3, 2, 2, 3),
    "100x": (300, 2, 2, 3),
}  # patients, studies/patient, series/study, instances/series


def _files(patients: int, studies: int, series: int, instances: int) -> list[bytes]:
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    files = []
    for p in range(patients):
        for s in range(studies):
            study_uid = generate_uid()
            for r in range(series):
                series_uid = generate_uid()
                for i in range(instances):
                    template.PatientID, template.PatientName = f"P{p:04d}", f"Bench^{p}"
                    template.StudyInstanceUID, template.SeriesInstanceUID = study_uid, series_uid
                    template.SOPInstanceUID = generate_uid()
                    template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
                    template.StudyDate, template.SeriesNumber = f"2021{s + 1:02d}01", r + 1
                    template.InstanceNumber = i + 1
                    buffer = io.BytesIO()
                    template.save_as(buffer, enforce_file_format=True)
                    files.append(buffer.getvalue())
    return files


def _fill(server: OrthancServer, files: list[bytes]) -> None:
    with server.client() as http, ThreadPoolExecutor(4) as pool:
        for response in pool.map(lambda data: http.post("/instances", content=data), files):
            response.raise_for_status()


Hook = Callable[[httpx.Request], None]


def _kkorthanc(server: OrthancServer, hook: Hook, use_kk_plugin: bool) -> tuple[int, int]:
    detection: list[httpx.Request] = []
    phase = {"detecting": use_kk_plugin}

    def count(request: httpx.Request) -> None:
        (detection.append if phase["detecting"] else hook)(request)

    with kkorthanc.Orthanc(
        server.url, auth=server.auth, event_hooks={"request": [count]}, use_kk_plugin=use_kk_plugin
    ) as client:
        if use_kk_plugin:  # the plugin is detected once per client, with its capabilities
            assert client.capabilities().kk_plugin is not None
        phase["detecting"] = False
        tree = client.tree()
        return len(tree.to_records(typed=False)), len(detection)


def kkorthanc_rest(server: OrthancServer, hook: Hook) -> tuple[int, int]:
    return _kkorthanc(server, hook, use_kk_plugin=False)


def kkorthanc_plugin(server: OrthancServer, hook: Hook) -> tuple[int, int]:
    return _kkorthanc(server, hook, use_kk_plugin=True)


def pyorthanc_tree(server: OrthancServer, hook: Hook) -> tuple[int, int]:
    import pyorthanc

    client = pyorthanc.Orthanc(server.url, server.username or "", server.password or "")
    client.event_hooks["request"].append(hook)
    rows = 0
    for patient in pyorthanc.find_patients(client):
        patient_tags = patient.main_dicom_tags
        for study in patient.studies:
            study_tags = study.main_dicom_tags
            for series in study.series:
                series_tags = series.main_dicom_tags
                for instance in series.instances:
                    row = {**patient_tags, **study_tags, **series_tags, **instance.main_dicom_tags}
                    rows += bool(row)
    client.close()
    return rows, 0


def pyorthanc_find(server: OrthancServer, hook: Hook) -> tuple[int, int]:
    import pyorthanc

    client = pyorthanc.Orthanc(server.url, server.username or "", server.password or "")
    client.event_hooks["request"].append(hook)
    rows = 0
    for patient in pyorthanc.find(client):  # builds the tree first, children cached
        for study in patient.studies:
            for series in study.series:
                for instance in series.instances:
                    tags = [patient, study, series, instance]
                    rows += bool({k: v for r in tags for k, v in r.main_dicom_tags.items()})
    client.close()
    return rows, 0


def _measure(
    run: Callable[[OrthancServer, Hook], tuple[int, int]], server: OrthancServer, repeat: int
) -> tuple[str, float, int]:
    best = float("inf")
    for _ in range(repeat):
        sent: list[httpx.Request] = []
        start = time.perf_counter()
        rows, detection = run(server, sent.append)
        best = min(best, time.perf_counter() - start)
    count = f"{len(sent)} (+{detection} once per client)" if detection else str(len(sent))
    return count, best, rows


CLIENTS = [
    ("KkOrthanc tree(), REST API", kkorthanc_rest),
    ("KkOrthanc tree(), plugin", kkorthanc_plugin),
    ("pyorthanc find_patients() + walk", pyorthanc_tree),
    ("pyorthanc find() + walk", pyorthanc_find),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chroot", type=Path, help="run the Orthanc inside this chroot")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1x,100x")
    args = parser.parse_args(argv)
    binary = OrthancBinary(chroot=args.chroot) if args.chroot else OrthancBinary()
    lines = ["| tree (patients/studies/series/instances) | client | HTTP requests | time (s) |",
             "|---|---|---:|---:|"]  # fmt: skip
    with OrthancServer.start(binary, stable_age=60, python_script=script_path()) as server:
        for name in args.sizes.split(","):
            with server.client() as http:
                for patient in http.get("/patients").json():
                    http.delete(f"/patients/{patient}").raise_for_status()
            _fill(server, _files(*SIZES[name]))
            p, s, r, i = SIZES[name]
            label = f"{p}/{p * s}/{p * s * r}/{p * s * r * i} (Orthanc {server.version})"
            for client_name, run in CLIENTS:
                count, seconds, rows = _measure(run, server, args.repeat)
                if rows != p * s * r * i:
                    raise SystemExit(f"{client_name} listed {rows} instances, not {p * s * r * i}")
                lines.append(f"| {label} | {client_name} | {count} | {seconds:.3f} |")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
