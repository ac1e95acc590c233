"""Requests and time to list a whole tree with its main tags: KkOrthanc's tree() versus pyorthanc.

Run it in the benchmarks' own environment (pyorthanc is installed there only)::

    bash benchmarks/setup.sh
    benchmarks/.env/bin/python benchmarks/tree_requests.py [--chroot /var/cache/kkorthanc/trixie]

It starts a throw-away Orthanc running the KkOrthanc server plugin, fills it with copies of
pydicom's CT_small.dcm under new UIDs (3 patients / 6 studies / 12 series / 36 instances, then 100
times that), lists the tree with each client, counts the HTTP requests each sends (an httpx event
hook on all) and prints a Markdown table. KkOrthanc runs twice: forced to the plain REST API
(``use_kk_plugin=False``) and through the plugin (detected by ``capabilities()``, whose requests,
once per client, are counted apart and not timed: a client asks once, then every tree() takes
one request). Each figure is the best of ``--repeat`` runs, each run with a new client. With
``--latency-ms`` (default 20) KkOrthanc's two paths run again through a loopback proxy that adds
that round trip to every exchange, as a remote server would.
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
from _latency import DelayProxy
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

import kkorthanc
from kkorthanc.plugin import script_path
from kkorthanc.server._launcher import OrthancBinary
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


Run = Callable[[OrthancServer, Hook], tuple[int, int, float]]
"""A contender: the instances listed, the requests of plugin detection (once per client, not
timed), and the seconds of its own timing (0.0: time the whole call)."""


def _kkorthanc(server: OrthancServer, hook: Hook, use_kk_plugin: bool) -> tuple[int, int, float]:
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
        start = time.perf_counter()
        tree = client.tree()
        elapsed = time.perf_counter() - start
        return len(tree.to_records(typed=False)), len(detection), elapsed


def kkorthanc_rest(server: OrthancServer, hook: Hook) -> tuple[int, int, float]:
    return _kkorthanc(server, hook, use_kk_plugin=False)


def kkorthanc_plugin(server: OrthancServer, hook: Hook) -> tuple[int, int, float]:
    return _kkorthanc(server, hook, use_kk_plugin=True)


def pyorthanc_tree(server: OrthancServer, hook: Hook) -> tuple[int, int, float]:
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
    return rows, 0, 0.0


def pyorthanc_find(server: OrthancServer, hook: Hook) -> tuple[int, int, float]:
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
    return rows, 0, 0.0


def _measure(run: Run, server: OrthancServer, repeat: int) -> tuple[str, float, int]:
    best = float("inf")
    for _ in range(repeat):
        sent: list[httpx.Request] = []
        start = time.perf_counter()
        rows, detection, own = run(server, sent.append)
        best = min(best, own or time.perf_counter() - start)
    count = f"{len(sent)} (+{detection} once per client)" if detection else str(len(sent))
    return count, best, rows


CLIENTS = [
    ("KkOrthanc tree(), REST API", kkorthanc_rest),
    ("KkOrthanc tree(), plugin", kkorthanc_plugin),
    ("pyorthanc find_patients() + walk", pyorthanc_tree),
    ("pyorthanc find() + walk", pyorthanc_find),
]


def _through_latency(
    server: OrthancServer, label: str, latency_ms: float, repeat: int
) -> list[str]:
    """KkOrthanc's two paths again, through a proxy that adds ``latency_ms`` per round trip."""
    port = int(server.url.rsplit(":", 1)[1])
    lines = []
    with DelayProxy(port, round_trip=latency_ms / 1000) as proxy_port:
        remote = OrthancServer(
            f"http://127.0.0.1:{proxy_port}", server.system, auth=server.auth, label=server.label
        )
        for client_name, run in CLIENTS[:2]:
            count, seconds, _ = _measure(run, remote, repeat)
            where = f"{label}, +{latency_ms:g} ms round trip"
            lines.append(f"| {where} | {client_name} | {count} | {seconds:.3f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chroot", type=Path, help="run the Orthanc inside this chroot")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1x,100x")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="also time KkOrthanc through a proxy adding this round trip (0: skip)",
    )
    args = parser.parse_args(argv)
    binary = OrthancBinary(chroot=args.chroot) if args.chroot else OrthancBinary()
    lines = [
        "| tree (patients/studies/series/instances) | client | HTTP requests | time (s) |",
        "|---|---|---:|---:|",
    ]
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
            if args.latency_ms > 0:
                lines.extend(_through_latency(server, label, args.latency_ms, args.repeat))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
