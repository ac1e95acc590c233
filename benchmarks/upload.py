#!/usr/bin/env python3
"""Upload benchmark: KkOrthanc (sync, async) against pyorthanc, orthanc-api-client and raw
concurrent uploaders that only POST file bytes, each on a fresh server.

The raw uploaders: ``raw`` (4 threads over httpx.Client), ``raw-async`` (4 tasks over
httpx.AsyncClient), ``raw-threads-4`` and ``raw-threads-8`` (4 or 8 threads over the standard
library's http.client, one keep-alive connection per thread, the leanest threaded client) and
``raw-asyncio-4`` and ``raw-asyncio-8`` (4 or 8 tasks, each with its own keep-alive connection
from asyncio.open_connection, speaking HTTP/1.1 by hand, the leanest asyncio client). The table
gives each contender's ratio to the best raw uploader of the run, and names it: the issue's
target is "upload at >= 0.95 of the best raw uploader (4 or 8 connections, threads or asyncio)".

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
    "raw-async",
    "raw-threads-4",
    "raw-threads-8",
    "raw-asyncio-4",
    "raw-asyncio-8",
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


def run_raw_threads(url: str, folder: Path, threads: int) -> None:
    """The leanest threaded ceiling: the standard library's http.client, one keep-alive
    connection per thread, ``threads`` threads posting file bytes."""
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
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status} {body[:500]!r}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, files))


def run_raw_asyncio(url: str, folder: Path, connections: int) -> None:
    """The leanest asyncio ceiling: ``connections`` tasks, each with its own keep-alive
    connection (asyncio.open_connection), writing HTTP/1.1 POSTs by hand and reading each
    answer's head and then its body by Content-Length."""
    import asyncio
    from urllib.parse import urlsplit

    where = urlsplit(url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    head = (
        f"POST /instances HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/dicom\r\nConnection: keep-alive\r\nContent-Length: "
    ).encode()
    todo = iter(sorted(folder.glob("*.dcm")))  # shared: each task takes the next file

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for path in todo:
            data = path.read_bytes()  # blocking, but small files: cheaper than a thread
            writer.write(head + str(len(data)).encode() + b"\r\n\r\n" + data)
            await writer.drain()
            status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            body = await reader.readexactly(int(headers["content-length"]))
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:500]!r}")
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()

    async def upload_all() -> None:
        await asyncio.gather(*(worker() for _ in range(connections)))

    asyncio.run(upload_all())


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """An HTTP/1.1 answer's status code and headers (names lower-cased) from its head."""
    status_line, *fields = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise RuntimeError(f"answer without Content-Length: {status_line}")
    return int(status_line.split()[1]), headers


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
    "raw-async": "httpx",
    "raw-threads-4": "http.client",
    "raw-threads-8": "http.client",
    "raw-asyncio-4": "asyncio",
    "raw-asyncio-8": "asyncio",
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
    elif contender == "raw-async":
        run_raw_async(url, folder)
    elif contender.startswith("raw-threads-"):
        run_raw_threads(url, folder, int(contender.rpartition("-")[2]))
    elif contender.startswith("raw-asyncio-"):
        run_raw_asyncio(url, folder, int(contender.rpartition("-")[2]))
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


def best_raw(results: dict[tuple[str, str], dict[str, float]], corpus: str) -> str | None:
    """The fastest raw uploader measured on ``corpus``, or None when no raw one was selected."""
    raws = [c for c in CONTENDERS if c.startswith("raw") and (c, corpus) in results]
    return min(raws, key=lambda c: results[(c, corpus)]["seconds"], default=None)


def table(results: dict[tuple[str, str], dict[str, float]], corpora: list[str]) -> str:
    lines = []
    for corpus in corpora:
        folder = _corpus.build(corpus)
        files, size = _count(folder), _corpus.size_of(folder) / 1e6
        best = best_raw(results, corpus)
        raw = results[(best, corpus)]["seconds"] if best else None
        py = results.get(("pyorthanc", corpus), {}).get("seconds")
        lines += [
            f"\n### {corpus}: {files} files, {size:.0f} MB\n",
            f"Best raw uploader: {best or 'none selected'}\n",
            "| contender | s | instances/s | MB/s | peak RSS MB | vs best raw "
            "| vs pyorthanc | 2nd upload s (% of 1st) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for contender in CONTENDERS:
            r = results.get((contender, corpus))
            if r is not None:
                lines.append(_row(contender, r, files, size, raw, py))
    return "\n".join(lines)


def _row(
    contender: str,
    r: dict[str, float],
    files: int,
    size: float,
    raw: float | None,
    py: float | None,
) -> str:
    """One table line; ratios are the reference's seconds over this contender's (higher wins)."""
    s = r["seconds"]
    again = (
        f"{r['second_seconds']:.2f} ({100 * r['second_seconds'] / s:.1f}%)"
        if r["second_seconds"]
        else ""
    )
    vs_raw = f"{raw / s:.2f}" if raw else ""
    vs_py = f"{py / s:.2f}x" if py else ""
    return (
        f"| {contender} | {s:.2f} | {files / s:.0f} | {size / s:.1f} | {r['rss_mb']:.0f} "
        f"| {vs_raw} | {vs_py} | {again} |"
    )


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
