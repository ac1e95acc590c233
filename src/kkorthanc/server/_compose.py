"""A docker compose setup: the official ``orthancteam/orthanc`` image, with the same options.

Inside the container every client comes through docker's network, so Orthanc must allow remote
access, and authentication is therefore always on: without users, a user ``kkorthanc`` gets a
generated password. Secrets never enter ``docker-compose.yml`` or ``orthanc.json``: the users
and database connection go to ``orthanc-secrets.json``, which the image reads as a docker secret
(it merges ``/run/secrets/*.json`` into its configuration), and a local PostgreSQL's password to
``postgres-password`` (``POSTGRES_PASSWORD_FILE``). The folder is 0700 and every file 0600, a
folder or file another account owns is refused, and a re-run keeps the generated passwords.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import OrthancInputError, UnsafePathError
from ..plugin import COMPANIONS, install_script
from ._folder import PASSWORD_NAME
from ._local import GENERATED_USER
from ._options import CONFIG_NAME, KK_SCRIPT_NAME, ServerOptions, effective_config
from ._private import check_trusted, make_private_dir, write_private

__all__ = ["COMPOSE_NAME", "IMAGE", "compose_files", "write_compose"]

COMPOSE_NAME = "docker-compose.yml"
SECRETS_NAME = "orthanc-secrets.json"
POSTGRES_PASSWORD_NAME = "postgres-password"
IMAGE = "orthancteam/orthanc:latest"
POSTGRES_IMAGE = "postgres:15"
STORAGE = "/var/lib/orthanc/db"
CONTAINER_CONFIG = "/etc/orthanc/orthanc.json"
CONTAINER_SCRIPT = "/etc/orthanc/kkorthanc_plugin.py"
POSTGRES_USER = "orthanc"
# The image enables a plugin by an environment variable (its plugins live in its own folder).
_PLUGIN_ENV = {
    "python": "PYTHON_PLUGIN_ENABLED",
    "kk": "PYTHON_PLUGIN_ENABLED",
    "dicomweb": "DICOM_WEB_PLUGIN_ENABLED",
    "postgresql": "POSTGRESQL_PLUGIN_ENABLED",
}
# Where a database plugin's configuration keeps a password (moved to the secrets file).
_DATABASE_SECTIONS = ("PostgreSQL", "MySQL", "Odbc")
_SECRET_KEYS = ("ConnectionUri", "ConnectionString", "Password")


@dataclass(frozen=True)
class _Plan:
    """What :func:`write_compose` writes: the compose document, Orthanc's whole configuration
    and the local PostgreSQL's password (None without ``postgres="local"``)."""

    document: dict[str, Any]
    config: dict[str, Any]
    postgres_password: str | None


def compose_files(
    options: ServerOptions, *, postgres_password: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compose document and the configuration Orthanc runs with in the container (the
    merge of ``orthanc.json`` and ``orthanc-secrets.json``), as Python values; no I/O.

    Inside the container Orthanc sees every client as remote (they come through docker's
    bridge), so remote access and authentication are on: without ``options.users`` a user
    ``kkorthanc`` gets a new random password. The published ports are bound to ``127.0.0.1``
    unless ``options.remote``; PostgreSQL publishes none.

    Args:
        options: The server's options.
        postgres_password: The local PostgreSQL's password (default: a new random one).

    Raises:
        OrthancInputError: Contradictory options (``remote`` without users, ``no_auth``, a
            configuration that turns authentication off).

    Example:
        >>> compose, config = compose_files(ServerOptions(Path("d")))
        >>> compose["services"]["orthanc"]["image"], list(config["RegisteredUsers"])
        ('orthancteam/orthanc:latest', ['kkorthanc'])
    """
    plan = _plan(options, postgres_password)
    return plan.document, plan.config


def _plan(options: ServerOptions, postgres_password: str | None) -> _Plan:
    options.validate()
    if options.no_auth:
        raise OrthancInputError(
            "--no-auth: inside a container every client comes through docker's network, so "
            "Orthanc must accept remote clients and `server compose` always needs authentication"
        )
    options = replace(_with_generated_user(options), chroot=None)
    uri, password = options.postgres, None
    if options.postgres == "local":
        password = postgres_password or secrets.token_urlsafe(24)
        uri = f"postgresql://{POSTGRES_USER}:{quote(password, safe='')}@postgres:5432/orthanc"
    config = effective_config(options, postgres_uri=uri, check_plugins=False)
    config.update(StorageDirectory=STORAGE, IndexDirectory=STORAGE, RemoteAccessAllowed=True)
    config.pop("Plugins", None)
    if "kk" in options.plugins:
        config["PythonScript"] = CONTAINER_SCRIPT
    _check_authentication(config)
    return _Plan(_compose_document(options, config), config, password)


def _with_generated_user(options: ServerOptions) -> ServerOptions:
    if options.users or options.file_config().get("RegisteredUsers"):
        return options
    return replace(options, users={GENERATED_USER: secrets.token_urlsafe(24)})


def _check_authentication(config: dict[str, Any]) -> None:
    if not (config.get("AuthenticationEnabled") and config.get("RegisteredUsers")):
        raise OrthancInputError(
            "the container must accept clients through docker's network, so authentication "
            "must stay on: remove AuthenticationEnabled=false (or the empty RegisteredUsers) "
            "from --set/--config"
        )


def _compose_document(options: ServerOptions, config: dict[str, Any]) -> dict[str, Any]:
    bind = "" if options.remote else "127.0.0.1:"  # "": every interface, IPv4 and IPv6
    http_port, dicom_port = config["HttpPort"], config["DicomPort"]
    volumes = [f"./{CONFIG_NAME}:{CONTAINER_CONFIG}:ro", f"./db:{STORAGE}"]
    if "kk" in options.plugins:
        volumes.append(f"./{KK_SCRIPT_NAME}:{CONTAINER_SCRIPT}:ro")
        volumes.extend(f"./{name}:/etc/orthanc/{name}:ro" for name in COMPANIONS)
    # No VERBOSE_STARTUP: the image would log the merged configuration, passwords included.
    wanted = [*options.plugins, *(["postgresql"] if options.postgres else [])]
    environment = {_PLUGIN_ENV[name]: "true" for name in wanted}
    orthanc: dict[str, Any] = {
        "image": IMAGE,
        "restart": "unless-stopped",
        "ports": [f"{bind}{http_port}:{http_port}", f"{bind}{dicom_port}:{dicom_port}"],
        "volumes": volumes,
        "environment": environment,
        "secrets": [SECRETS_NAME],
    }
    services: dict[str, Any] = {"orthanc": orthanc}
    files = {SECRETS_NAME: {"file": f"./{SECRETS_NAME}"}}
    if options.postgres == "local":
        orthanc["depends_on"] = ["postgres"]
        services["postgres"] = _postgres_service()
        files[POSTGRES_PASSWORD_NAME] = {"file": f"./{POSTGRES_PASSWORD_NAME}"}
    return {"services": services, "secrets": files}


def _postgres_service() -> dict[str, Any]:
    """The database: reachable from the orthanc service only (no published port)."""
    return {
        "image": POSTGRES_IMAGE,
        "restart": "unless-stopped",
        "volumes": ["./postgres:/var/lib/postgresql/data"],
        "environment": {
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_PASSWORD_FILE": f"/run/secrets/{POSTGRES_PASSWORD_NAME}",
            "POSTGRES_DB": "orthanc",
        },
        "secrets": [POSTGRES_PASSWORD_NAME],
    }


def write_compose(options: ServerOptions) -> list[Path]:
    """Write ``docker-compose.yml``, ``orthanc.json``, ``orthanc-secrets.json``,
    ``kkorthanc-password`` (the first user's password alone, for ``ORTHANC_PASSWORD_FILE``),
    with ``postgres="local"`` ``postgres-password``, and the kk plugin script, into
    ``options.data_dir``; run it there with ``docker compose up -d``.

    The folder is made 0700 and every file 0600, written without following links. Without
    ``options.users``, the users of an earlier run are kept, else a user ``kkorthanc`` gets a
    random password; a local PostgreSQL keeps its password.

    Returns:
        The files written.

    Raises:
        OrthancInputError: Contradictory options, or an unreadable earlier secrets file.
        UnsafePathError: The folder or a file in it belongs to another account or may be
            written by others, or an earlier secret is a symbolic link.
        OSError: The directory cannot be written.

    Example:
        >>> write_compose(ServerOptions(Path("pacs"), users={"alice": "s3cret"}))  # doctest: +SKIP
        [PosixPath('pacs/docker-compose.yml'), PosixPath('pacs/orthanc.json'), ...]
    """
    options.validate()
    directory = Path(options.data_dir)
    _check_folder(directory)
    kept_users, kept_password = _kept_users(directory), _kept_postgres_password(directory, options)
    if not options.users and kept_users:
        options = replace(options, users=kept_users)
    plan = _plan(options, kept_password)
    make_private_dir(directory)
    make_private_dir(directory / "db")
    return _write_files(directory, plan, options)


def _write_files(directory: Path, plan: _Plan, options: ServerOptions) -> list[Path]:
    public, secret = _split_secrets(plan.config)
    header = "# Written by `kkorthanc server compose`; run: docker compose up -d\n"
    users: dict[str, str] = plan.config["RegisteredUsers"]
    texts = {
        COMPOSE_NAME: header + to_yaml(plan.document),
        CONFIG_NAME: json.dumps(public, indent=2) + "\n",
        SECRETS_NAME: json.dumps(secret, indent=2) + "\n",
        PASSWORD_NAME: next(iter(users.values())) + "\n",
    }
    if plan.postgres_password is not None:
        texts[POSTGRES_PASSWORD_NAME] = plan.postgres_password + "\n"
    written = []
    for name, text in texts.items():
        write_private(directory / name, text)
        written.append(directory / name)
    if "kk" in options.plugins:  # the script and the companion modules it imports (0600)
        written.append(install_script(directory, KK_SCRIPT_NAME))
        written.extend(directory / name for name in COMPANIONS)
    return written


def _split_secrets(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``orthanc.json`` without the passwords, and the passwords (``orthanc-secrets.json``)."""
    public = dict(config)
    secret: dict[str, Any] = {"RegisteredUsers": public.pop("RegisteredUsers")}
    for section in _DATABASE_SECTIONS:
        value = public.get(section)
        if not isinstance(value, dict):
            continue
        hidden = {key: value[key] for key in _SECRET_KEYS if key in value}
        if hidden:
            public[section] = {k: v for k, v in value.items() if k not in hidden}
            secret[section] = hidden
    return public, secret


def _check_folder(directory: Path) -> None:
    """Refuse a folder, or a file we would read or replace, that another account could plant."""
    check_trusted(directory, "compose folder")
    check_trusted(directory / "db", "storage folder")
    for name in (COMPOSE_NAME, CONFIG_NAME, SECRETS_NAME, PASSWORD_NAME, POSTGRES_PASSWORD_NAME):
        check_trusted(directory / name, "file")


def _kept_users(directory: Path) -> dict[str, str]:
    """The users of an earlier run (its secrets file, or an older ``orthanc.json``)."""
    for name in (SECRETS_NAME, CONFIG_NAME):
        text = _read_kept(directory / name)
        if text is None:
            continue
        try:
            users = json.loads(text).get("RegisteredUsers")
        except (ValueError, AttributeError) as error:
            raise OrthancInputError(
                f"cannot read the earlier {directory / name}: {error}; fix or delete it"
            ) from error
        if isinstance(users, dict) and users:
            return {str(user): str(password) for user, password in users.items()}
    return {}


def _kept_postgres_password(directory: Path, options: ServerOptions) -> str | None:
    """The local PostgreSQL's password of an earlier run: its cluster was created with it."""
    if options.postgres != "local":
        return None
    text = _read_kept(directory / POSTGRES_PASSWORD_NAME)
    password = text.splitlines()[0] if text else ""
    if not password and (directory / "postgres").exists():
        raise OrthancInputError(
            f"{directory / 'postgres'} holds a PostgreSQL cluster but "
            f"{directory / POSTGRES_PASSWORD_NAME} is missing or empty: a new password would "
            f"not open it. Write its password there (chmod 600; a cluster made by KkOrthanc "
            f"0.2 has the password 'orthanc': change it first with `docker compose exec "
            f"postgres psql -U orthanc -c '\\password orthanc'`)"
        )
    return password or None


def _read_kept(path: Path) -> str | None:
    """The text of an earlier file, None if absent; never through a link, never a FIFO."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        if not path.is_symlink():
            raise
        raise UnsafePathError(
            f"{path} is a symbolic link: KkOrthanc does not read a secret through one; "
            f"replace it with the file itself",
            path=str(path),
        ) from error
    with os.fdopen(descriptor, encoding="utf-8") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnsafePathError(f"{path} is not a regular file", path=str(path))
        return stream.read()


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars; every string double-quoted (JSON escapes,
    which YAML reads the same way), so no value can be misread.

    Raises:
        TypeError: A value JSON cannot represent.

    Example:
        >>> print(to_yaml({"a": ["x", 1]}), end="")
        "a":
          - "x"
          - 1
    """
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            lines.append(_yaml_entry(f"{pad}{json.dumps(str(key))}:", item, indent))
    elif isinstance(value, list):
        for item in value:
            lines.append(_yaml_entry(f"{pad}-", item, indent))
    else:
        lines.append(f"{pad}{json.dumps(value)}")
    return "".join(line + "\n" for line in lines)


def _yaml_entry(prefix: str, item: Any, indent: int) -> str:
    if isinstance(item, (dict, list)) and item:
        return prefix + "\n" + to_yaml(item, indent + 1).rstrip("\n")
    return f"{prefix} {json.dumps(item)}"
