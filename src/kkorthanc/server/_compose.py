"""A docker compose setup: the official ``orthancteam/orthanc`` image, with the same options."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..plugin import COMPANIONS, install_script
from ._options import CONFIG_NAME, KK_SCRIPT_NAME, ServerOptions, effective_config

__all__ = ["COMPOSE_NAME", "IMAGE", "compose_files", "write_compose"]

COMPOSE_NAME = "docker-compose.yml"
IMAGE = "orthancteam/orthanc:latest"
POSTGRES_IMAGE = "postgres:15"
STORAGE = "/var/lib/orthanc/db"
CONTAINER_CONFIG = "/etc/orthanc/orthanc.json"
CONTAINER_SCRIPT = "/etc/orthanc/kkorthanc_plugin.py"
LOCAL_PG_URI = "postgresql://orthanc:orthanc@postgres:5432/orthanc"
# The image enables a plugin by an environment variable (its plugins live in its own folder).
_PLUGIN_ENV = {
    "python": "PYTHON_PLUGIN_ENABLED",
    "kk": "PYTHON_PLUGIN_ENABLED",
    "dicomweb": "DICOM_WEB_PLUGIN_ENABLED",
    "postgresql": "POSTGRESQL_PLUGIN_ENABLED",
}


def compose_files(options: ServerOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compose document and the Orthanc configuration for ``options``, as Python values.

    Inside the container Orthanc sees every client as remote (they come through docker's
    bridge), so remote access is on, and the published ports are bound to ``127.0.0.1`` unless
    ``options.remote``.

    Raises:
        OrthancInputError: Contradictory options (e.g. ``remote`` without users).

    Example:
        >>> compose, config = compose_files(ServerOptions(Path("d")))
        >>> compose["services"]["orthanc"]["image"]
        'orthancteam/orthanc:latest'
    """
    uri = (
        None
        if not options.postgres
        else (LOCAL_PG_URI if options.postgres == "local" else options.postgres)
    )
    options = replace(options, chroot=None)
    config = effective_config(options, postgres_uri=uri, check_plugins=False)
    config.update(StorageDirectory=STORAGE, IndexDirectory=STORAGE, RemoteAccessAllowed=True)
    config.pop("Plugins", None)
    if "kk" in options.plugins:
        config["PythonScript"] = CONTAINER_SCRIPT
    return _compose_document(options, config), config


def _compose_document(options: ServerOptions, config: dict[str, Any]) -> dict[str, Any]:
    bind = "" if options.remote else "127.0.0.1:"
    http_port, dicom_port = config["HttpPort"], config["DicomPort"]
    volumes = [f"./{CONFIG_NAME}:{CONTAINER_CONFIG}:ro", f"./db:{STORAGE}"]
    if "kk" in options.plugins:
        volumes.append(f"./{KK_SCRIPT_NAME}:{CONTAINER_SCRIPT}:ro")
        volumes.extend(f"./{name}:/etc/orthanc/{name}:ro" for name in COMPANIONS)
    environment = {"VERBOSE_STARTUP": "true"}
    wanted = [*options.plugins, *(["postgresql"] if options.postgres else [])]
    environment.update({_PLUGIN_ENV[name]: "true" for name in wanted})
    orthanc: dict[str, Any] = {
        "image": IMAGE,
        "restart": "unless-stopped",
        "ports": [f"{bind}{http_port}:{http_port}", f"{bind}{dicom_port}:{dicom_port}"],
        "volumes": volumes,
        "environment": environment,
    }
    services: dict[str, Any] = {"orthanc": orthanc}
    if options.postgres == "local":
        orthanc["depends_on"] = ["postgres"]
        services["postgres"] = {
            "image": POSTGRES_IMAGE,
            "restart": "unless-stopped",
            "volumes": ["./postgres:/var/lib/postgresql/data"],
            "environment": {
                "POSTGRES_USER": "orthanc",
                "POSTGRES_PASSWORD": "orthanc",
                "POSTGRES_DB": "orthanc",
            },
        }
    return {"services": services}


def write_compose(options: ServerOptions) -> list[Path]:
    """Write ``docker-compose.yml`` and ``orthanc.json`` (and the kk plugin script) into
    ``options.data_dir``; run it there with ``docker compose up -d``.

    Returns:
        The files written.

    Raises:
        OrthancInputError: Contradictory options.
        OSError: The directory cannot be written.

    Example:
        >>> write_compose(ServerOptions(Path("pacs"), users={"alice": "s3cret"}))  # doctest: +SKIP
        [PosixPath('pacs/docker-compose.yml'), PosixPath('pacs/orthanc.json')]
    """
    directory = Path(options.data_dir)
    compose, config = compose_files(options)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "db").mkdir(exist_ok=True)
    written = [directory / COMPOSE_NAME, directory / CONFIG_NAME]
    header = "# Written by `kkorthanc server compose`; run: docker compose up -d\n"
    written[0].write_text(header + to_yaml(compose), encoding="utf-8")
    written[1].write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if "kk" in options.plugins:  # the script and the companion modules it imports
        written.append(install_script(directory, KK_SCRIPT_NAME))
        written.extend(directory / name for name in COMPANIONS)
    return written


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
