"""``kkorthanc server start|status|stop|logs|config|compose``: a local Orthanc in one directory."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import time
from pathlib import Path
from typing import Any

from ... import server
from ..._core.config import read_secret_file
from ...errors import OrthancInputError
from .._command import EXIT_CONNECTION, EXIT_OK, add_command
from .._context import Context
from .._output import to_json
from .._profiles import save_profile

__all__ = ["register"]

DEFAULT_DATA = "orthanc-data"


def register(subparsers: Any) -> None:
    """Add the ``server`` group and its commands.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import server
        >>> server.register(parser.add_subparsers())  # doctest: +SKIP
    """
    group = add_command(
        subparsers,
        "server",
        None,
        "run a local Orthanc (data kept in --data DIR)",
        "kkorthanc server start --data ./pacs",
        connects=False,
    )
    commands = group.add_subparsers(title="server commands", metavar="COMMAND")
    start = add_command(
        commands,
        "start",
        _run_start,
        "start Orthanc in the background",
        "kkorthanc server start --data ./pacs --user alice:s3cret --plugin python",
        connects=False,
    )
    _data_option(start)
    _server_options(start)
    where = start.add_mutually_exclusive_group()
    where.add_argument(
        "--orthanc",
        metavar="BINARY",
        default="Orthanc",
        help="the Orthanc executable (default: Orthanc on PATH or in /usr/sbin)",
    )
    where.add_argument(
        "--chroot",
        metavar="DIR",
        type=Path,
        help="run the Orthanc installed in this chroot (root; --data inside it)",
    )
    start.add_argument(
        "--run-as",
        metavar="USER",
        help="as root, run Orthanc as this account, which then owns the data directory "
        "(default: the 'orthanc' system account when it exists; give it on every start)",
    )
    start.add_argument(
        "--allow-root",
        action="store_true",
        help="as root, keep Orthanc (its plugins, Lua and Python scripts) running as root",
    )
    start.add_argument(
        "--tls-cert",
        type=Path,
        metavar="CERT.pem",
        help="serve HTTPS with this PEM certificate (chain) through a TLS relay, Orthanc "
        "itself on an internal loopback port; kept for later starts (needs --tls-key)",
    )
    start.add_argument(
        "--tls-key",
        type=Path,
        metavar="KEY.pem",
        help="the certificate's private key (PEM, not encrypted); copied 0600 into --data",
    )
    start.add_argument("--foreground", action="store_true", help="stay attached until Ctrl-C")
    start.add_argument(
        "--wait",
        type=float,
        default=60,
        metavar="SECONDS",
        help="how long to wait for the REST API (default 60)",
    )
    start.add_argument(
        "--save-profile",
        metavar="NAME",
        help="store URL and credentials as a profile of the config file (for a server "
        "already running: kkorthanc server profile NAME)",
    )
    for name, handler, summary, example in (
        (
            "status",
            _run_status,
            "is it running? pid, url, version (exit 3 when stopped)",
            "kkorthanc server status --data ./pacs --output json",
        ),
        (
            "stop",
            _run_stop,
            "stop it (SIGTERM, then SIGKILL after --grace seconds)",
            "kkorthanc server stop --data ./pacs",
        ),
        (
            "config",
            _run_config,
            "print the effective configuration (orthanc.json; passwords shown as ***)",
            "kkorthanc server config --data ./pacs",
        ),
    ):
        _data_option(add_command(commands, name, handler, summary, example, connects=False))
    profile = add_command(
        commands,
        "profile",
        _run_profile,
        "save the server's URL and first user (password from DATA/kkorthanc-password) as a "
        "profile; works while it runs",
        "kkorthanc server profile pacs --data ./pacs",
        connects=False,
    )
    profile.add_argument("name", metavar="NAME", help="the profile's name (use: --profile NAME)")
    _data_option(profile)
    commands.choices["stop"].add_argument("--grace", type=float, default=30, metavar="SECONDS")
    logs = add_command(
        commands,
        "logs",
        _run_logs,
        "print Orthanc's log",
        "kkorthanc server logs --data ./pacs -f",
        connects=False,
    )
    _data_option(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines")
    compose = add_command(
        commands,
        "compose",
        _run_compose,
        "write docker-compose.yml + orthanc.json (secrets apart, 0600) for orthancteam/orthanc",
        "kkorthanc server compose ./pacs-docker --user alice",
        connects=False,
    )
    compose.add_argument("data", type=Path, metavar="DIR", help="where to write the files")
    _server_options(compose)


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        default=Path(os.environ.get("KKORTHANC_SERVER_DATA", DEFAULT_DATA)),
        help=f"the data directory (env KKORTHANC_SERVER_DATA; default ./{DEFAULT_DATA})",
    )


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-port", type=int, metavar="PORT", help="default 8042")
    parser.add_argument("--dicom-port", type=int, metavar="PORT", help="default 4242")
    parser.add_argument("--aet", help="the server's AE title (default ORTHANC)")
    parser.add_argument(
        "--user",
        dest="server_users",
        action="append",
        default=[],
        metavar="NAME[:PASSWORD]",
        help="a user (repeatable); NAME alone gets a generated password. Without any, a user "
        "'kkorthanc' with a generated password (kept 0600 in the data directory)",
    )
    parser.add_argument(
        "--users-file",
        type=Path,
        metavar="FILE",
        help="users as NAME:PASSWORD lines (keeps passwords out of the command line)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="no authentication: every local user gets full access (throw-away servers only)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any Orthanc option; VALUE as JSON if it parses",
    )
    parser.add_argument("--config", type=Path, metavar="FILE.json", help="a base configuration")
    parser.add_argument(
        "--plugin",
        dest="plugins",
        action="append",
        default=[],
        choices=sorted(server.PLUGINS),
        help="load a plugin (repeatable)",
    )
    parser.add_argument(
        "--postgres",
        metavar="DSN|local",
        help="PostgreSQL index: a connection URI, or 'local' for a private "
        "cluster in the data directory (a URI with a password: prefer --postgres-file)",
    )
    parser.add_argument(
        "--postgres-file",
        type=Path,
        metavar="FILE",
        help="read the PostgreSQL connection URI from the first line of FILE",
    )
    parser.add_argument(
        "--remote", action="store_true", help="accept other machines (needs --user)"
    )
    parser.add_argument(
        "--dicom-accept",
        choices=("known", "any"),
        help="who may use the DICOM port: 'known' registered modalities only (default), "
        "or 'any' AE title from any host",
    )


def _options(ctx: Context) -> server.ServerOptions:
    args = ctx.args
    users = _users(args.server_users, args.users_file)
    postgres = args.postgres
    if args.postgres_file is not None:
        if postgres:
            raise OrthancInputError("give --postgres or --postgres-file, not both")
        postgres = read_secret_file(args.postgres_file, "--postgres-file")
    return server.ServerOptions(
        data_dir=args.data,
        http_port=args.http_port,
        dicom_port=args.dicom_port,
        aet=args.aet,
        users=users,
        settings=dict(server.parse_setting(text) for text in args.settings),
        config_file=args.config,
        plugins=tuple(args.plugins),
        executable=getattr(args, "orthanc", None) or "Orthanc",
        chroot=getattr(args, "chroot", None),
        remote=args.remote,
        postgres=postgres,
        dicom_accept=args.dicom_accept,
        no_auth=args.no_auth,
        run_as=getattr(args, "run_as", None),
        allow_root=getattr(args, "allow_root", False),
        tls_cert=getattr(args, "tls_cert", None),
        tls_key=getattr(args, "tls_key", None),
    )


def _users(texts: list[str], users_file: Path | None) -> dict[str, str]:
    """``--user`` values and ``--users-file`` lines; a NAME alone gets a generated password."""
    if users_file is not None:
        try:
            lines = users_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise OrthancInputError(f"cannot read --users-file {users_file}: {error}") from error
        texts = [*texts, *(line.strip() for line in lines if line.strip())]
    users: dict[str, str] = {}
    for text in texts:
        if ":" in text:
            name, password = server.parse_user(text)
        else:
            name, password = text, secrets.token_urlsafe(24)
        users[name] = password
    return users


def _run_start(ctx: Context) -> int:
    """Start Orthanc, then print where it runs and how to connect."""
    if ctx.args.save_profile and server.server_status(ctx.args.data, ask_version=False).running:
        raise OrthancInputError(
            f"an Orthanc already runs from {ctx.args.data}: save its profile with "
            f"`kkorthanc server profile {shlex.quote(ctx.args.save_profile)} --data "
            f"{shlex.quote(str(ctx.args.data))}`"
        )
    options = _options(ctx)
    if ctx.args.foreground:
        ctx.info(f"Orthanc on {options.url}, data in {options.data_dir}; Ctrl-C stops it")
        return server.run_foreground(options)
    status = server.start_server(options, timeout=ctx.args.wait)
    remote = bool(server.read_config(status.data_dir).get("RemoteAccessAllowed"))
    if remote and status.relay_pid is None:
        ctx.info(
            "warning: --remote serves plain HTTP: passwords and patient data cross the network "
            "in clear text; give --tls-cert/--tls-key, or put a TLS reverse proxy in front "
            "(see docs/security.md)"
        )
    env = {"ORTHANC_URL": status.url or ""}
    if status.username is None:
        ctx.info("warning: authentication is off: every local user has full access")
    if status.username and status.password_file:
        env.update(
            ORTHANC_USERNAME=status.username, ORTHANC_PASSWORD_FILE=str(status.password_file)
        )
    if ctx.args.save_profile:
        _save(ctx, env, status)
    _report_start(ctx, status, env)
    return EXIT_OK


def _save(
    ctx: Context, env: dict[str, str], status: server.ServerStatus, name: str | None = None
) -> None:
    name = name or ctx.args.save_profile
    profile = {"url": env["ORTHANC_URL"]}
    if status.ca_file is not None:
        profile["ca"] = str(status.ca_file)
    if "ORTHANC_USERNAME" in env:
        password = read_secret_file(env["ORTHANC_PASSWORD_FILE"], "the server's password file")
        profile.update(user=env["ORTHANC_USERNAME"], password=password)
    path = save_profile(name, profile)
    ctx.info(f"Saved as profile {name!r} in {path}: use --profile {name}")


def _run_profile(ctx: Context) -> int:
    """Save the profile of the server of ``--data`` (running or not, once started)."""
    status = server.server_status(ctx.args.data, ask_version=False)
    if status.url is None:
        raise OrthancInputError(
            f"{ctx.args.data} holds no server configuration: start it first "
            f"(`kkorthanc server start --data {shlex.quote(str(ctx.args.data))} "
            f"--save-profile {shlex.quote(ctx.args.name)}`)"
        )
    env = {"ORTHANC_URL": status.url}
    if status.username and status.password_file:
        env.update(
            ORTHANC_USERNAME=status.username, ORTHANC_PASSWORD_FILE=str(status.password_file)
        )
    _save(ctx, env, status, ctx.args.name)
    return EXIT_OK


def _report_start(ctx: Context, status: server.ServerStatus, env: dict[str, str]) -> None:
    if ctx.output == "json":
        ctx.stdout.write(to_json({**status.to_json(), "env": env}) + "\n")
        return
    relay = f", behind the TLS relay pid {status.relay_pid}" if status.relay_pid else ""
    ctx.info(
        f"Orthanc {status.version} runs at {status.url} (pid {status.pid}{relay}); "
        f"configuration, storage and log in {status.data_dir}\n"
        f"{server.dicom_summary(server.read_config(status.data_dir))}\n"
        f"Stop it with: kkorthanc server stop --data {shlex.quote(str(status.data_dir))}\n"
        "Connect other kkorthanc commands (or the Python client) with:"
    )
    for key, value in env.items():
        ctx.stdout.write(f"export {key}={shlex.quote(value)}\n")
    if status.ca_file is not None:
        ca = shlex.quote(str(status.ca_file))
        ctx.info(
            f"Its certificate is self-signed: trust it with `kkorthanc --ca {ca} ...` "
            f"(ca = {json.dumps(str(status.ca_file))} in a profile; --save-profile does it), "
            f"Orthanc(url, verify={str(status.ca_file)!r}) in Python, `curl --cacert {ca}`"
        )


def _run_status(ctx: Context) -> int:
    """Print the status record; exit 3 when the server is not running."""
    status = server.server_status(ctx.args.data)
    ctx.record(status.to_json())
    return EXIT_OK if status.running else EXIT_CONNECTION


def _run_stop(ctx: Context) -> int:
    """Stop the server (and its local PostgreSQL)."""
    stopped = server.stop_server(ctx.args.data, timeout=ctx.args.grace)
    ctx.info(f"Orthanc of {ctx.args.data} " + ("stopped" if stopped else "was not running"))
    return EXIT_OK


def _run_config(ctx: Context) -> int:
    """Print the configuration Orthanc runs (or last ran) with."""
    config = server.read_config(ctx.args.data)
    if not config:
        raise OrthancInputError(
            f"no orthanc.json in {ctx.args.data}: start the server first "
            f"(`kkorthanc server start --data {ctx.args.data}`)"
        )
    ctx.stdout.write(to_json(server.redact_config(config)) + "\n")
    return EXIT_OK


def _run_logs(ctx: Context) -> int:
    """Print the log, and with ``--follow`` keep printing until Ctrl-C."""
    text = server.read_log(ctx.args.data)
    if ctx.args.lines is not None:
        text = "".join(text.splitlines(keepends=True)[-ctx.args.lines :]) if ctx.args.lines else ""
    ctx.stdout.write(text)
    ctx.stdout.flush()
    if ctx.args.follow:
        log_path = Path(ctx.args.data) / "orthanc.log"
        _follow(ctx, log_path, log_path.stat().st_size if log_path.exists() else 0)
    return EXIT_OK


def _follow(ctx: Context, path: Path, offset: int) -> None:
    while True:
        try:
            with path.open("rb") as log:
                log.seek(offset)
                chunk = log.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            ctx.stdout.write(chunk.decode("utf-8", errors="replace"))
            ctx.stdout.flush()
        time.sleep(0.5)


def _run_compose(ctx: Context) -> int:
    """Write the docker compose files and say how to run them; never print a password."""
    options = _options(ctx)
    written = server.write_compose(options)
    for path in written:
        ctx.stdout.write(f"{path}\n")
    folder = shlex.quote(str(ctx.args.data))
    if options.remote:
        ctx.info(
            "warning: --remote publishes the ports on every interface with plain HTTP: "
            "passwords and patient data cross the network in clear text; put a TLS reverse "
            "proxy in front (see docs/security.md)"
        )
    secrets_file = Path(ctx.args.data) / "orthanc-secrets.json"
    users = json.loads(secrets_file.read_text(encoding="utf-8"))["RegisteredUsers"]
    ctx.info(
        f"Passwords are in {secrets_file} (0600), never in docker-compose.yml. Connect with: "
        f"export ORTHANC_USERNAME={shlex.quote(next(iter(users)))} "
        f"ORTHANC_PASSWORD_FILE={shlex.quote(str(Path(ctx.args.data) / 'kkorthanc-password'))}"
    )
    ctx.info(f"Run it with: cd {folder} && docker compose up -d")
    return EXIT_OK
