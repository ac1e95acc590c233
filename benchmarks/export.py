#!/usr/bin/env python3
"""Export benchmark: KkOrthanc's ``export`` (sync, async) against two raw concurrent downloaders
that GET every ``/instances/{id}/file`` and write it to disk, nothing else: ``raw`` (4 threads
over httpx.Client) and ``raw-http.client`` (4 threads over http.client keep-alive connections).

Run ``bash benchmarks/setup.sh`` once, then ``benchmarks/.env/bin/python benchmarks/export.py``.
One fresh server is filled with a corpus (see ``_corpus.py``); each contender exports it into an
empty folder in its own subprocess (peak RSS is its own). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _corpus

CONTENDERS = ("raw", "raw-http.client", "kk-sync", "kk-async")
THREADS = 4


def run_raw(url: str, target: Path) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=300) as http:
        ids = http.get("/instances").json()

        def fetch(orthanc_id: str) -> None:
            with http.stream("GET", f"/instances/{orthanc_id}/file") as response:
                response.raise_for_status()
                with (target / f"{orthanc_id}.dcm").open("wb") as sink:
                    for chunk in response.iter_bytes(256 * 1024):
                        sink.write(chunk)

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(fetch, ids))


def run_raw_http_client(url: str, target: Path) -> None:
    import http.client
    import threading
    from urllib.parse import urlsplit

    import httpx

    ids = httpx.get(f"{url}/instances").json()
    where, local = urlsplit(url), threading.local()

    def fetch(orthanc_id: str) -> None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(where.hostname, where.port, timeout=300)
        local.connection.request("GET", f"/instances/{orthanc_id}/file")
        answer = local.connection.getresponse()
        if answer.status != 200:
            raise RuntimeError(f"{orthanc_id}: {answer.status}")
        with (target / f"{orthanc_id}.dcm").open("wb") as sink:
            while chunk := answer.read(256 * 1024):
                sink.write(chunk)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(fetch, ids))


def run_kk(url: str, target: Path, kind: str) -> float:
    """Export, then export again (all skipped); return the second run's seconds."""
    import asyncio

    import kkorthanc

    if kind == "kk-sync":
        with kkorthanc.Orthanc(url) as client:
            patients = [("Patient", p) for p in client.get("patients")]
            assert client.export(patients, target).ok
            start = time.perf_counter()
            client.export(patients, target)
            return time.perf_counter() - start

    async def both() -> float:
        async with kkorthanc.AsyncOrthanc(url) as client:
            patients = [("Patient", p) for p in await client.get("patients")]
            assert (await client.export(patients, target)).ok
            start = time.perf_counter()
            await client.export(patients, target)
            return time.perf_counter() - start

    return asyncio.run(both())


def child(contender: str, url: str, target: Path) -> dict[str, float]:
    """Run one contender; the library is imported before the clock starts, and the files are
    counted after it stops."""
    __import__("kkorthanc" if contender.startswith("kk-") else "httpx")
    start = time.perf_counter()
    second = run_kk(url, target, contender) if contender.startswith("kk-") else 0.0
    if contender == "raw":
        run_raw(url, target)
    elif contender == "raw-http.client":
        run_raw_http_client(url, target)
    seconds = time.perf_counter() - start - second
    files = list(target.rglob("*.dcm"))
    return {
        "seconds": seconds,
        "second_seconds": second,
        "files": len(files),
        "bytes": sum(path.stat().st_size for path in files),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_corpus(
    corpus: str, contenders: list[str], repeat: int = 1
) -> dict[str, dict[str, float]]:
    import httpx

    from kkorthanc.server._launcher import OrthancBinary, OrthancProcess, build_config, free_ports

    folder = _corpus.build(corpus)
    results = {}
    with tempfile.TemporaryDirectory(prefix="kk-bench-") as data:
        http_port, dicom_port = free_ports(2)
        config = build_config(Path(data), http_port=http_port, dicom_port=dicom_port)
        with OrthancProcess.start(OrthancBinary(), Path(data), config, Path(data) / "log") as srv:
            with httpx.Client(base_url=srv.url, timeout=300) as http:
                for path in sorted(folder.glob("*.dcm")):
                    # Streamed: Linux keeps a parent's peak RSS in its children's ru_maxrss
                    # across exec, so this process must stay small for their figures to be theirs.
                    with path.open("rb") as body:
                        http.post("/instances", content=body).raise_for_status()
            for contender in [name for _ in range(repeat) for name in contenders]:
                target = Path(data) / f"out-{contender}"
                target.mkdir()
                os.sync()  # no contender pays for the write-back of the one before it
                done = subprocess.run(
                    [sys.executable, __file__, "--child", contender, srv.url, str(target)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{contender} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if contender not in results or result["seconds"] < results[contender]["seconds"]:
                    results[contender] = result
                shutil.rmtree(target)
                print(f"{contender:10} {corpus:7} {result}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "URL", "TARGET"))
    parser.add_argument("--corpus", action="append", choices=_corpus.CORPORA)
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds on the same server; best run kept"
    )
    args = parser.parse_args(argv)
    if args.child:
        contender, url, target = args.child
        print(json.dumps(child(contender, url, Path(target))))
        return 0
    for corpus in args.corpus or list(_corpus.CORPORA):
        results = measure_corpus(corpus, list(CONTENDERS), args.repeat)
        raw = results["raw"]["seconds"]
        lean = results["raw-http.client"]["seconds"]
        print(f"\n### export {corpus}\n")
        print(
            "| contender | files | s | files/s | MB/s | peak RSS MB | vs raw "
            "| vs raw-http.client | 2nd run s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name, r in results.items():
            s = r["seconds"]
            print(
                f"| {name} | {r['files']:.0f} | {s:.2f} | {r['files'] / s:.0f} "
                f"| {r['bytes'] / 1e6 / s:.1f} | {r['rss_mb']:.0f} | {raw / s:.2f} "
                f"| {lean / s:.2f} | {r['second_seconds']:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
