"""A TLS start: Orthanc on an internal loopback port, the ``_tls`` relay on the public one.

Orthanc's own HTTPS (``SslEnabled``) crashes the Debian builds at the first request, so the
launcher terminates TLS itself. ``ServerOptions.tls_cert``/``tls_key`` (kept, as 0600 copies in
the data folder, for later starts) make :func:`tls_options` move Orthanc to a free internal
port with ``RemoteAccessAllowed`` false; :func:`start_relay` then runs the relay on the public
port (loopback, or every interface with ``remote``), as the account Orthanc runs as, and probes
Orthanc through it over HTTPS, trusting only the given certificate. Every client reaches
Orthanc from 127.0.0.1 through the relay, so a remote TLS server must keep authentication on
(:func:`check_auth`). The relay's pid is ``tls-relay.pid`` and its log ``tls-relay.log``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from ..errors import OrthancInputError, OrthancStartError
from ._account import Account
from ._folder import STATE_NAME, config_auth, read_state
from ._launcher import free_ports
from ._options import DEFAULT_HTTP_PORT, ServerOptions
from ._private import hand_over, write_private
from ._process import is_alive, is_ours, spawn, terminate
from ._tls import LISTEN_ALL, relay_context

__all__ = [
    "CERT_NAME",
    "KEY_NAME",
    "RELAY_LOG_NAME",
    "RELAY_PID_NAME",
    "check_auth",
    "relay_pid",
    "start_relay",
    "stop_relay",
    "tls_options",
    "tls_state",
]

CERT_NAME = "tls-cert.pem"
KEY_NAME = "tls-key.pem"
RELAY_PID_NAME = "tls-relay.pid"
RELAY_LOG_NAME = "tls-relay.log"
_RELAY_SCRIPT = Path(__file__).with_name("_tls.py")


def tls_options(
    options: ServerOptions, data_dir: Path, state: dict[str, Any]
) -> tuple[ServerOptions, dict[str, Any] | None]:
    """Orthanc's side of a TLS start, and the relay's plan (None without TLS).

    TLS is asked by ``tls_cert``/``tls_key``, or kept from the last start (``state["tls"]``)
    while the copies are in the data folder. Orthanc then gets a free internal port, no remote
    access and no ``SslEnabled``; the plan holds the public port, ``remote`` and the files.
    Copies removed, a restart serves plain HTTP on the public port again.

    Raises:
        OrthancInputError: The certificate is not PEM, or the key does not match it.

    Example:
        >>> tls_options(ServerOptions(Path("d")), Path("d"), {})  # doctest: +SKIP
        (ServerOptions(...), None)
    """
    previous = state.get("tls") if isinstance(state.get("tls"), dict) else None
    kept = (data_dir / CERT_NAME).is_file() and (data_dir / KEY_NAME).is_file()
    if options.tls_cert is None and not (previous and kept):
        port = options.http_port or (previous or {}).get("port")
        return replace(options, http_port=port), None
    if options.tls_cert is not None and options.tls_key is not None:
        cert, key = Path(os.path.abspath(options.tls_cert)), Path(os.path.abspath(options.tls_key))
        _check_pair(cert, key)
        trust = str(cert)
    else:
        cert, key = data_dir / CERT_NAME, data_dir / KEY_NAME
        trust = str((previous or {}).get("trust") or cert)
    plan = {
        "port": _public_port(options, previous),
        "remote": options.remote or _was_remote(options, previous),
        "trust": trust,
        "source": [str(cert), str(key)],
    }
    internal = next(p for p in free_ports(8) if p not in (plan["port"], options.dicom_port))
    settings = {**options.settings, "RemoteAccessAllowed": False, "SslEnabled": False}
    orthanc = replace(options, http_port=internal, remote=False, settings=settings)
    return orthanc, plan


def _public_port(options: ServerOptions, previous: dict[str, Any] | None) -> int:
    if options.http_port:
        return options.http_port
    if previous and previous.get("port"):
        return int(previous["port"])
    return int(options.file_config().get("HttpPort") or DEFAULT_HTTP_PORT)


def _was_remote(options: ServerOptions, previous: dict[str, Any] | None) -> bool:
    if previous is not None:
        return bool(previous.get("remote"))
    return bool(options.file_config().get("RemoteAccessAllowed"))


def _check_pair(cert: Path, key: Path) -> None:
    """Refuse a certificate that is not PEM, or a key that is not its own, before any start."""
    try:
        ssl.create_default_context(cafile=str(cert))
    except (OSError, ssl.SSLError) as error:
        raise OrthancInputError(
            f"--tls-cert {cert} is not a readable PEM certificate: {error}"
        ) from error
    try:
        relay_context(str(cert), str(key))
    except (OSError, ssl.SSLError) as error:
        raise OrthancInputError(
            f"--tls-key {key} is not the private key of --tls-cert {cert} (or not an "
            f"unencrypted PEM key: decrypt it with `openssl pkey`): {error}"
        ) from error


def check_auth(config: dict[str, Any], plan: dict[str, Any] | None) -> None:
    """A remote TLS server must authenticate: Orthanc sees every client as 127.0.0.1.

    Raises:
        OrthancInputError: ``remote`` with TLS and authentication off (``--no-auth``,
            ``AuthenticationEnabled`` false, or no registered user).

    Example:
        >>> check_auth({"AuthenticationEnabled": False}, {"remote": True})
        Traceback (most recent call last):
        ...
        kkorthanc.errors.OrthancInputError: --remote with TLS needs authentication: ...
    """
    if plan is None or not plan["remote"]:
        return
    if not (config.get("AuthenticationEnabled") and config.get("RegisteredUsers")):
        raise OrthancInputError(
            "--remote with TLS needs authentication: every client reaches Orthanc from "
            "127.0.0.1 through the relay, so Orthanc's own remote-access check no longer "
            "applies; give --user NAME:PASSWORD (and no --no-auth or AuthenticationEnabled=false)"
        )


def install(plan: dict[str, Any] | None, data_dir: Path) -> dict[str, Any] | None:
    """Copy the certificate and key into the data folder (0600); the state entry to keep.

    Raises:
        OSError: A file cannot be read or written.

    Example:
        >>> install(None, Path("d")) is None
        True
    """
    if plan is None:
        return None
    cert, key = (Path(name) for name in plan["source"])
    for source, name in ((cert, CERT_NAME), (key, KEY_NAME)):
        if source != data_dir / name:
            write_private(data_dir / name, source.read_text(encoding="utf-8"))
    return {name: plan[name] for name in ("port", "remote", "trust")}


def tls_state(data_dir: Path) -> dict[str, Any] | None:
    """The TLS entry of the server's state file (None for a plain HTTP server).

    Raises:
        Nothing: a missing or corrupt state file reads as no TLS.

    Example:
        >>> tls_state(Path("orthanc-data"))["url"]  # doctest: +SKIP
        'https://127.0.0.1:8042'
    """
    entry = read_state(data_dir).get("tls")
    return entry if isinstance(entry, dict) else None


def start_relay(
    data_dir: Path, config: dict[str, Any], account: Account | None, timeout: float
) -> None:
    """Run the relay (when the state asks for TLS), probe Orthanc through it, note its URL.

    Raises:
        OrthancStartError: The relay exited (port taken, unreadable files) or Orthanc did not
            answer through it in time; the message has the relay's log.

    Example:
        >>> start_relay(Path("orthanc-data"), config, None, 60)  # doctest: +SKIP
    """
    entry = tls_state(data_dir)
    if entry is None:
        return
    stop_relay(data_dir, 10)  # a relay left behind by an Orthanc that died
    log_path = data_dir / RELAY_LOG_NAME
    log_start = log_path.stat().st_size if log_path.exists() else 0
    pid = spawn(_relay_command(data_dir, entry, config, account), log_path, None)
    write_private(data_dir / RELAY_PID_NAME, f"{pid}\n")
    if account is not None:
        hand_over(data_dir, account.owner)  # the pid file and the log
    peer = _wait_for_relay(pid, data_dir, entry, config, timeout, log_start)
    entry.update(url=_url(peer, int(entry["port"])), self_signed=peer["issuer"] == peer["subject"])
    state = {**read_state(data_dir), "tls": entry}
    write_private(data_dir / STATE_NAME, json.dumps(state, indent=2))
    if account is not None:
        hand_over(data_dir, account.owner)


def _relay_command(
    data_dir: Path, entry: dict[str, Any], config: dict[str, Any], account: Account | None
) -> list[str]:
    command = [sys.executable, "-I", str(_RELAY_SCRIPT), "--data", str(data_dir)]
    command += ["--cert", str(data_dir / CERT_NAME), "--key", str(data_dir / KEY_NAME)]
    command += ["--listen", LISTEN_ALL if entry.get("remote") else "127.0.0.1"]
    command += ["--port", str(entry["port"]), "--target", str(config["HttpPort"])]
    if account is not None:  # binds as root (a port below 1024 works), then drops
        command += ["--uid", str(account.uid), "--gid", str(account.gid)]
    return command


def _wait_for_relay(
    pid: int,
    data_dir: Path,
    entry: dict[str, Any],
    config: dict[str, Any],
    timeout: float,
    log_start: int,
) -> dict[str, Any]:
    """Until a TLS handshake with the relay verifies and Orthanc answers through it."""
    context = _trusting(data_dir / CERT_NAME)
    port = int(entry["port"])
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline:
        if not is_alive(pid):
            raise _relay_error(data_dir, "the TLS relay exited during start-up", log_start)
        try:
            peer = _handshake(context, port)
            if _answers(context, port, config):
                return peer
        except (OSError, ssl.SSLError, httpx.TransportError) as caught:
            error = caught
        time.sleep(0.1)
    terminate(pid, 5)
    reason = f"Orthanc did not answer through the TLS relay on port {port} within {timeout:g} s"
    raise _relay_error(data_dir, f"{reason} (last error: {error})", log_start)


def _trusting(cert: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``cert`` (a leaf is an anchor: partial chains)."""
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the name is checked by clients; here: the key and chain
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def _handshake(context: ssl.SSLContext, port: int) -> dict[str, Any]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        peer = tls.getpeercert()
    return dict(peer or {})


def _answers(context: ssl.SSLContext, port: int, config: dict[str, Any]) -> bool:
    auth = config_auth(config)
    with httpx.Client(verify=context, auth=auth, timeout=5.0, trust_env=False) as client:
        answer = client.get(f"https://127.0.0.1:{port}/system")
    return answer.status_code == 200 and answer.json().get("Name") == config.get("Name")


def _url(peer: dict[str, Any], port: int) -> str:
    """``https://HOST:PORT`` with a host the certificate names: loopback when it can."""
    names = [
        value for kind, value in peer.get("subjectAltName", ()) if kind in ("DNS", "IP Address")
    ]
    if not names:
        names = [
            value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"
        ]
    host = next((n for n in ("127.0.0.1", "localhost") if n in names), None)
    host = host or next((n for n in names if "*" not in n), "127.0.0.1")
    return f"https://{f'[{host}]' if ':' in host else host}:{port}"


def _relay_error(data_dir: Path, reason: str, log_start: int) -> OrthancStartError:
    (data_dir / RELAY_PID_NAME).unlink(missing_ok=True)
    text = _read_relay_log(data_dir)[log_start:]
    tail = "\n".join(text.splitlines()[-20:])
    in_use = "in use" in tail
    hint = " (the port is taken: choose another with --http-port)" if in_use else ""
    return OrthancStartError(
        f"{reason}{hint}; log {data_dir / RELAY_LOG_NAME}, last lines:\n{tail}",
        log_tail=tail,
        port_in_use=in_use,
    )


def _read_relay_log(data_dir: Path) -> str:
    try:
        return (data_dir / RELAY_LOG_NAME).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def relay_pid(data_dir: Path) -> int | None:
    """The pid of the data folder's running TLS relay, None when none runs.

    A pid counts only when its process is alive, runs our relay script for this folder and
    runs as the folder's owner: a recycled or planted pid is never signalled.

    Raises:
        Nothing.

    Example:
        >>> relay_pid(Path("orthanc-data"))  # doctest: +SKIP
        4242
    """
    try:
        pid = int((data_dir / RELAY_PID_NAME).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    if not is_alive(pid) or not is_ours(pid, data_dir, _RELAY_SCRIPT.name):
        return None
    return pid


def stop_relay(data_dir: Path, timeout: float) -> bool:
    """Stop the data folder's TLS relay; True when one was running.

    Raises:
        LauncherError: It survived SIGKILL.

    Example:
        >>> stop_relay(Path("orthanc-data"), 30)  # doctest: +SKIP
        True
    """
    pid = relay_pid(data_dir)
    if pid is not None:
        terminate(pid, timeout)
    (data_dir / RELAY_PID_NAME).unlink(missing_ok=True)
    return pid is not None
