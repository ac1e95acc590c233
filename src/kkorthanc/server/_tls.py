"""A TLS-terminating relay in front of a loopback-only Orthanc (stdlib only, run as a script).

The Debian builds of Orthanc crash at the first HTTPS request when ``SslEnabled`` is on, so
``kkorthanc server start --tls-cert CERT --tls-key KEY`` keeps Orthanc on an internal port that
refuses non-loopback clients and runs this relay on the public port: it accepts TLS 1.2 or
newer with the given certificate, opens one plain connection to Orthanc on 127.0.0.1 for each
client, and copies bytes both ways through bounded buffers (a stalled reader stops the
writer). Either side closing closes the other.

The launcher runs it detached, by file name and in isolated mode (``python -I _tls.py``) so
that it imports nothing but the standard library. Started by root, it binds its port, drops to
``--uid``/``--gid`` (the account Orthanc runs as), and only then reads the certificate and key
(copies in the data folder, that account's) and accepts clients.

Example:
    $ python -I _tls.py --data DATA --cert DATA/tls-cert.pem --key DATA/tls-key.pem \\
        --listen 127.0.0.1 --port 8042 --target 35021
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
import sys
from collections.abc import Sequence

__all__ = ["main", "relay_context", "serve"]

CHUNK = 65536
"""Bytes read at once from either side; with the stream limits, what one connection buffers."""
MAX_CONNECTIONS = 512
"""Connections relayed at once; more are closed as soon as they are accepted."""
HANDSHAKE_SECONDS = 30.0
"""A client that has not finished its TLS handshake by then is dropped."""
STALL_SECONDS = 600.0
"""A side that reads nothing of what it is sent for this long is dropped (Orthanc's HttpTimeout)."""
LISTEN_ALL = "*"
"""``--listen`` value for every interface (IPv4 and IPv6)."""


def relay_context(cert: str, key: str) -> ssl.SSLContext:
    """The server-side TLS context: TLS 1.2 or newer, ``cert`` (chain) with its private ``key``.

    Raises:
        ssl.SSLError: The key does not match the certificate, or a file is not PEM, or the
            key is encrypted (no password is ever asked for).
        OSError: A file cannot be read.

    Example:
        >>> relay_context("tls-cert.pem", "tls-key.pem").minimum_version  # doctest: +SKIP
        <TLSVersion.TLSv1_2: 771>
    """
    context = _server_context()
    context.load_cert_chain(cert, key, password=_no_password)
    return context


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _no_password() -> bytes:
    """Never prompt on a terminal for an encrypted key: the empty password fails instead."""
    return b""


async def serve(
    files: tuple[str, str],
    listen: str,
    port: int,
    target: int,
    *,
    account: tuple[int, int] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Relay TLS clients of ``listen:port`` to ``127.0.0.1:target`` until ``stop`` is set.

    The port is bound first, then the process drops to ``account``, and only then reads the
    certificate and key: root never reads a file the account could have replaced.

    Args:
        files: The PEM certificate (chain) and its unencrypted private key.
        listen: ``127.0.0.1``, or :data:`LISTEN_ALL` for every interface.
        port: The public port.
        target: Orthanc's internal port on the loopback.
        account: ``(uid, gid)`` to drop to once the port is bound (started by root).
        stop: Set to stop (SIGTERM sets it in :func:`main`); None runs forever.

    Raises:
        OSError: The port cannot be bound, the account cannot be taken, or a file cannot be
            read.
        ssl.SSLError: The key does not match the certificate, or is not an unencrypted PEM.

    Example:
        >>> asyncio.run(serve(("c.pem", "k.pem"), "127.0.0.1", 8443, 8042))  # doctest: +SKIP
    """
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if slots.locked():
            await _close(writer)
            return
        async with slots:
            await _relay(reader, writer, target)

    context = _server_context()  # filled in below, once the account is taken
    server = await asyncio.start_server(
        handle,
        host=None if listen == LISTEN_ALL else listen,
        port=port,
        ssl=context,
        ssl_handshake_timeout=HANDSHAKE_SECONDS,
        limit=CHUNK,
        start_serving=False,
        reuse_address=True,
    )
    async with server:
        if account is not None:
            _drop_to(*account)
        context.load_cert_chain(*files, password=_no_password)
        await server.start_serving()
        _say(f"relaying TLS on {listen}:{port} to 127.0.0.1:{target} (pid {os.getpid()})")
        await (stop or asyncio.Event()).wait()


def _drop_to(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (no supplementary groups), then check it held."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
        raise OSError(f"could not drop to uid {uid}, gid {gid}")


async def _relay(
    client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, target: int
) -> None:
    """One client: connect to Orthanc, copy both ways, close both sides when done."""
    try:
        orthanc_reader, orthanc_writer = await asyncio.open_connection(
            "127.0.0.1", target, limit=CHUNK
        )
    except OSError as error:
        _say(f"cannot reach Orthanc on 127.0.0.1:{target}: {error}")
        await _close(client_writer)
        return
    upstream = asyncio.ensure_future(_pump(client_reader, orthanc_writer, half_close=True))
    downstream = asyncio.ensure_future(_pump(orthanc_reader, client_writer, half_close=False))
    try:
        done, _ = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        if downstream not in done and not upstream.result():  # the client is done sending:
            await downstream  # Orthanc answers what it has, then closes
    finally:
        for task in (upstream, downstream):
            task.cancel()
        await asyncio.gather(upstream, downstream, return_exceptions=True)
        await asyncio.gather(_close(orthanc_writer), _close(client_writer))


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, half_close: bool
) -> bool:
    """Copy until end of stream; True when the copy failed (the connection is then dropped).

    ``drain()`` waits while the peer's buffer is full, so at most a few chunks are in flight;
    a peer that reads nothing for :data:`STALL_SECONDS` ends the copy.
    """
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), STALL_SECONDS)
        if half_close and writer.can_write_eof():
            writer.write_eof()
    except (OSError, asyncio.TimeoutError, ssl.SSLError):
        return True
    return False


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 5)


def _say(text: str) -> None:
    """One line to the relay's log (its standard error)."""
    sys.stderr.write(f"kkorthanc-tls: {text}\n")
    sys.stderr.flush()


def _quiet_handshakes(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    """A client that fails its handshake (plain HTTP, an untrusting client) is one log line."""
    error = context.get("exception")
    if isinstance(error, (ssl.SSLError, OSError, asyncio.TimeoutError)):
        _say(f"connection dropped: {context.get('message', '')}: {error!r}")
        return
    loop.default_exception_handler(context)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kkorthanc-tls", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the server's data folder (for ps)")
    parser.add_argument("--cert", required=True, help="PEM certificate (chain)")
    parser.add_argument("--key", required=True, help="PEM private key, not encrypted")
    parser.add_argument("--listen", default="127.0.0.1", help=f"address, or {LISTEN_ALL!r}")
    parser.add_argument("--port", type=int, required=True, help="the public port")
    parser.add_argument("--target", type=int, required=True, help="Orthanc's loopback port")
    parser.add_argument("--uid", type=int, help="drop to this user once bound")
    parser.add_argument("--gid", type=int, help="and this group")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the relay until SIGTERM or SIGINT; 0 when stopped, 1 when it cannot start.

    Raises:
        SystemExit: Bad arguments (argparse).

    Example:
        >>> main(["--data", "d", "--cert", "c.pem", "--key", "k.pem", "--port", "8443",
        ...       "--target", "8042"])  # doctest: +SKIP
        0
    """
    args = _arguments(argv)
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_handshakes)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    account = (args.uid, args.gid) if args.uid is not None else None
    try:
        await serve(
            (args.cert, args.key), args.listen, args.port, args.target, account=account, stop=stop
        )
    except (OSError, ssl.SSLError) as error:
        _say(f"cannot serve TLS on {args.listen}:{args.port}: {error}")
        return 1
    _say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
