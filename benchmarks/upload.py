#!/usr/bin/env python3
"""Upload benchmark: KkOrthanc (sync, async) against pyorthanc, orthanc-api-client and three raw
concurrent uploaders that only POST file bytes, each on a fresh server: ``raw`` (4 threads over
httpx.Client), ``raw-http.client`` (4 threads over the standard library's http.client, the
leanest client, so the nearest to the ceiling the server allows when client and server share the
CPUs) and ``raw-async`` (4 tasks over httpx.AsyncClient).

Run ``bash benchmarks/setup.sh`` once, then ``benchmarks/.env/bin/python benchmarks/upload.py``.
Each contender runs in its own subprocess, so its peak RSS (ru_maxrss) is its own. Contenders
take turns for ``--repeat`` rounds (default 5) and each keeps its fastest run, which damps the
noise of a shared 2-core machine. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _corpus

CONTENDERS = (
    "raw",
    "raw-http.client",
    "raw-async",
    "kk-sync",
    "kk-async",
    "pyorthanc",
    "orthanc-api-client",
)
RAW_THREADS = 4


def run_raw(url: str, folder: Path) -> None:
    import httpx

    files = sorted(folder.glob("*.dcm"))
    with httpx.Client(base_url=url, timeout=300) as http:

        def post(path: Path) -> None:
            http.post("/instances", content=path.read_bytes()).raise_for_status()

        with ThreadPoolExecutor(RAW_THREADS) as pool:
            list(pool.map(post, files))


def run_raw_http_client(url: str, folder: Path) -> None:
    """The leanest ceiling: the standard library's http.client, one keep-alive connection per
    thread, RAW_THREADS threads posting file bytes."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    files = sorted(folder.glob("*.dcm"))
    where, local = urlsplit(url), threading.local()

    def post(path: Path) -> None:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(where.hostname, where.port, timeout=300)
        local.connection.request("POST", "/instances", body=path.read_bytes())
        answer = local.connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status}")

    with ThreadPoolExecutor(RAW_THREADS) as pool:
        list(pool.map(post, files))


def run_raw_async(url: str, folder: Path) -> None:
    """The asyncio ceiling: httpx.AsyncClient posting file bytes, RAW_THREADS at a time."""
    import asyncio

    import httpx

    files = sorted(folder.glob("*.dcm"))

    async def upload_all() -> None:
        gate = asyncio.Semaphore(RAW_THREADS)
        async with httpx.AsyncClient(base_url=url, timeout=300) as http:

            async def post(path: Path) -> None:
                async with gate:
                    data = path.read_bytes()  # noqa: ASYNC240 - small files: cheaper than a thread
                    response = await http.post("/instances", content=data)
                    response.raise_for_status()

            await asyncio.gather(*(post(path) for path in files))

    asyncio.run(upload_all())


def run_kk(url: str, folder: Path, kind: str) -> float:
    """Upload, then upload again (all skipped); return the second run's seconds."""
    import asyncio

    import kkorthanc

    if kind == "kk-sync":
        with kkorthanc.Orthanc(url) as client:
            assert client.upload(folder).counts == {"stored": _count(folder)}
            start = time.perf_counter()
            assert client.upload(folder).counts == {"skipped_existing": _count(folder)}
            return time.perf_counter() - start

    async def both() -> float:
        async with kkorthanc.AsyncOrthanc(url) as client:
            assert (await client.upload(folder)).counts == {"stored": _count(folder)}
            start = time.perf_counter()
            again = await client.upload(folder)
            assert again.counts == {"skipped_existing": _count(folder)}
            return time.perf_counter() - start

    return asyncio.run(both())


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.dcm")))


def run_pyorthanc(url: str, folder: Path) -> None:
    import pyorthanc

    client = pyorthanc.Orthanc(url, timeout=300)
    pyorthanc.upload(client, folder, recursive=True)


def run_api_client(url: str, folder: Path) -> None:
    import orthanc_api_client

    orthanc_api_client.OrthancApiClient(url).upload_folder(str(folder))


_MODULES = {
    "raw": "httpx",
    "raw-http.client": "http.client",
    "raw-async": "httpx",
    "kk-sync": "kkorthanc",
    "kk-async": "kkorthanc",
    "pyorthanc": "pyorthanc",
    "orthanc-api-client": "orthanc_api_client",
}


def child(contender: str, url: str, folder: Path) -> dict[str, float]:
    """Run one contender in this process; return its timings and peak RSS.

    The contender's library is imported before the clock starts: the figures compare uploads,
    not interpreter start-up.
    """
    __import__(_MODULES[contender])
    start = time.perf_counter()
    second = None
    if contender == "raw":
        run_raw(url, folder)
    elif contender == "raw-http.client":
        run_raw_http_client(url, folder)
    elif contender == "raw-async":
        run_raw_async(url, folder)
    elif contender.startswith("kk-"):
        second = run_kk(url, folder, contender)
    elif contender == "pyorthanc":
        run_pyorthanc(url, folder)
    else:
        run_api_client(url, folder)
    seconds = time.perf_counter() - start - (second or 0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "second_seconds": second or 0.0, "rss_mb": rss}


def measure(contender: str, corpus: str, folder: Path) -> dict[str, float]:
    """Start a fresh server, run the contender in a subprocess, check the server's count."""
    import httpx

    from kkorthanc.server._launcher import OrthancBinary, OrthancProcess, build_config, free_ports

    with tempfile.TemporaryDirectory(prefix="kk-bench-") as data:
        http_port, dicom_port = free_ports(2)
        config = build_config(Path(data), http_port=http_port, dicom_port=dicom_port)
        binary = OrthancBinary()
        with OrthancProcess.start(binary, Path(data), config, Path(data) / "log") as server:
            done = subprocess.run(
                [sys.executable, __file__, "--child", contender, server.url, str(folder)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{contender} on {corpus} failed:\n{done.stderr[-3000:]}")
            result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
            count = httpx.get(f"{server.url}/statistics").json()["CountInstances"]
            result["stored"] = count
            result["version"] = server.system.get("Version", "?")  # type: ignore[assignment]
            return result


def table(results: dict[tuple[str, str], dict[str, float]], corpora: list[str]) -> str:
    lines = []
    for corpus in corpora:
        folder = _corpus.build(corpus)
        files, size = _count(folder), _corpus.size_of(folder) / 1e6
        raw = results[("raw", corpus)]["seconds"]
        lean = results.get(("raw-http.client", corpus), {}).get("seconds")
        py = results.get(("pyorthanc", corpus), {}).get("seconds")
        lines += [
            f"\n### {corpus}: {files} files, {size:.0f} MB\n",
            "| contender | s | instances/s | MB/s | peak RSS MB | vs raw "
            "| vs raw-http.client | vs pyorthanc | 2nd upload s (% of 1st) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for contender in CONTENDERS:
            r = results.get((contender, corpus))
            if r is None:
                continue
            s = r["seconds"]
            again = (
                f"{r['second_seconds']:.2f} ({100 * r['second_seconds'] / s:.1f}%)"
                if r["second_seconds"]
                else ""
            )
            vs_py = f"{py / s:.2f}x" if py else ""
            vs_lean = f"{lean / s:.2f}" if lean else ""
            lines.append(
                f"| {contender} | {s:.2f} | {files / s:.0f} | {size / s:.1f} | {r['rss_mb']:.0f} "
                f"| {raw / s:.2f} | {vs_lean} | {vs_py} | {again} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "URL", "FOLDER"))
    parser.add_argument("--corpus", action="append", choices=_corpus.CORPORA)
    parser.add_argument("--contender", action="append", choices=CONTENDERS)
    parser.add_argument(
        "--repeat", type=int, default=5, help="rounds (contenders interleaved); best run kept"
    )
    args = parser.parse_args(argv)
    if args.child:
        contender, url, folder = args.child
        print(json.dumps(child(contender, url, Path(folder))))
        return 0
    corpora = args.corpus or list(_corpus.CORPORA)
    contenders = args.contender or list(CONTENDERS)
    results: dict[tuple[str, str], dict[str, float]] = {}
    for corpus in corpora:
        folder = _corpus.build(corpus)
        for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits all
            for contender in contenders:
                result = measure(contender, corpus, folder)
                print(f"{contender:20} {corpus:7} {result}", file=sys.stderr)
                best = results.get((contender, corpus))
                if best is None or result["seconds"] < best["seconds"]:
                    results[(contender, corpus)] = result
    print(table(results, corpora))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
