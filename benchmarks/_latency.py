"""A loopback TCP proxy that delays traffic, to show what round trips cost on a real network.

Every chunk is forwarded ``one_way`` seconds after it arrives, in both directions, so one HTTP
request-answer exchange costs at least ``2 * one_way`` more, as over a link with that round trip.
Bandwidth is not limited: only latency is added.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

__all__ = ["DelayProxy"]


class DelayProxy:
    """``with DelayProxy(upstream_port, round_trip=0.02) as port:`` serves 127.0.0.1:port."""

    def __init__(self, upstream_port: int, *, round_trip: float) -> None:
        self.upstream_port = upstream_port
        self.one_way = round_trip / 2
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _connection(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.upstream_port
        )
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer),
            self._pipe(upstream_reader, client_writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer))
        try:
            while chunk := await reader.read(1 << 16):
                queue.put_nowait((self._loop.time() + self.one_way, chunk))
        finally:
            queue.put_nowait((self._loop.time() + self.one_way, b""))
            await sender

    async def _send(
        self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - self._loop.time()))
            if not chunk:
                writer.close()
                return
            writer.write(chunk)
            await writer.drain()
