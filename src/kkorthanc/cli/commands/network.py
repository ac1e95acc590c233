"""DICOM networking through the server: ``modality``, ``query`` (C-FIND), ``retrieve``
(C-MOVE, C-GET), ``send`` (C-STORE, or HTTP to an Orthanc peer) and ``peer``."""

from __future__ import annotations

import getpass
import os
from typing import Any

from ...errors import OrthancInputError, UnsupportedFeatureError
from .._command import EXIT_OK, EXIT_PARTIAL, add_command
from .._context import Context
from .browse import parse_filters
from .jobs import wait_job
from .operations import resolve

__all__ = ["register"]

_LEVELS = {
    "patient": "Patient",
    "patients": "Patient",
    "study": "Study",
    "studies": "Study",
    "series": "Series",
    "instance": "Instance",
    "instances": "Instance",
}
# The DICOM key of each level, the one ``retrieve`` takes as UID arguments.
_KEYS = {
    "Patient": "PatientID",
    "Study": "StudyInstanceUID",
    "Series": "SeriesInstanceUID",
    "Instance": "SOPInstanceUID",
}
# Asked (empty return keys) by ``query`` unless given, so answers have something to show.
_RETURN_KEYS = {
    "Patient": ["PatientID", "PatientName", "PatientBirthDate", "PatientSex"],
    "Study": [
        "PatientID",
        "PatientName",
        "StudyDate",
        "StudyDescription",
        "AccessionNumber",
        "ModalitiesInStudy",
        "StudyInstanceUID",
    ],
    "Series": [
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
    ],
    "Instance": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "InstanceNumber"],
}
_HIDDEN = {"QueryRetrieveLevel", "SpecificCharacterSet"}
PEER_PASSWORD_ENV = "ORTHANC_PEER_PASSWORD"


def register(subparsers: Any) -> None:
    """Add ``modality``, ``query``, ``retrieve``, ``send`` and ``peer``.

    Args:
        subparsers: The ``add_subparsers()`` object of the ``kkorthanc`` parser.

    Raises:
        argparse.ArgumentError: A command of the same name is already registered.

    Example:
        >>> from kkorthanc.cli.commands import network
        >>> network.register(parser.add_subparsers())  # doctest: +SKIP
    """
    _register_modality(subparsers)
    query = add_command(
        subparsers,
        "query",
        _run_query,
        "C-FIND on a modality; one row per answer",
        "kkorthanc query pacs --level study PatientID='P1*' StudyDate=20240101-",
    )
    query.add_argument("modality", metavar="MODALITY")
    query.add_argument(
        "filters", nargs="+", metavar="TAG=VALUE", help="DICOM matching keys (PatientID='*': all)"
    )
    query.add_argument("--level", default="study", help="patient, study (default), series...")
    retrieve = add_command(
        subparsers,
        "retrieve",
        _run_retrieve,
        "C-MOVE (or C-GET with --get) resources of a modality, by their DICOM UIDs",
        "kkorthanc retrieve pacs --level study 1.2.840.113619.2.1.1",
    )
    retrieve.add_argument("modality", metavar="MODALITY")
    retrieve.add_argument(
        "uids", nargs="+", metavar="UID", help="UIDs of the level (PatientID for patients)"
    )
    retrieve.add_argument("--level", default="study", help="patient, study (default), series...")
    retrieve.add_argument("--target", metavar="AET", help="C-MOVE destination (default: server)")
    retrieve.add_argument("--get", action="store_true", help="C-GET (Orthanc 1.12.6+)")
    send = add_command(
        subparsers,
        "send",
        _run_send,
        "send resources to a modality (C-STORE) or an Orthanc peer",
        "kkorthanc send STUDY_ID --to pacs",
    )
    send.add_argument("ids", nargs="+", metavar="ID", help="Orthanc IDs, any level")
    target = send.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="MODALITY", help="a DICOM modality of the server")
    target.add_argument("--to-peer", metavar="PEER", help="an Orthanc peer of the server")
    _register_peer(subparsers)


def _register_modality(subparsers: Any) -> None:
    group = add_command(
        subparsers,
        "modality",
        _run_modalities,
        "DICOM modalities the server knows: ls (default), add, rm, echo",
        "kkorthanc modality ls",
    )
    commands = group.add_subparsers(title="modality commands", metavar="ACTION")
    add_command(commands, "ls", _run_modalities, "list the modalities", "kkorthanc modality ls")
    add = add_command(
        commands,
        "add",
        _run_modality_add,
        "add or replace a modality",
        "kkorthanc modality add pacs --aet PACS --host 10.0.0.5 --port 104",
    )
    add.add_argument("name", metavar="NAME", help="letters, digits, - and _")
    add.add_argument("--aet", required=True, help="its AE title")
    add.add_argument("--host", required=True, help="its host name or address")
    add.add_argument("--port", required=True, type=int, help="its DICOM port")
    remove = add_command(
        commands, "rm", _run_modality_rm, "forget a modality", "kkorthanc modality rm pacs"
    )
    remove.add_argument("name", metavar="NAME")
    echo = add_command(
        commands,
        "echo",
        _run_modality_echo,
        "C-ECHO a modality; exit 6 if not",
        "kkorthanc modality echo pacs",
    )
    echo.add_argument("name", metavar="NAME")


def _register_peer(subparsers: Any) -> None:
    group = add_command(
        subparsers, "peer", _run_peers, "Orthanc peers: ls (default), add, rm", "kkorthanc peer ls"
    )
    commands = group.add_subparsers(title="peer commands", metavar="ACTION")
    add_command(commands, "ls", _run_peers, "list the peers", "kkorthanc peer ls")
    add = add_command(
        commands,
        "add",
        _run_peer_add,
        f"add or replace a peer (its password: ${PEER_PASSWORD_ENV} or a prompt)",
        "kkorthanc peer add site2 http://10.0.0.2:8042/ --peer-user alice",
    )
    add.add_argument("name", metavar="NAME", help="letters, digits, - and _")
    add.add_argument("peer_url", metavar="URL", help="the peer's base URL (--url is this server's)")
    add.add_argument("--peer-user", metavar="NAME", help="user name the server sends to the peer")
    remove = add_command(commands, "rm", _run_peer_rm, "forget a peer", "kkorthanc peer rm site2")
    remove.add_argument("name", metavar="NAME")


def _level(text: str) -> str:
    try:
        return _LEVELS[text.strip().lower()]
    except KeyError:
        raise OrthancInputError(
            f"unknown level {text!r}; use patient, study, series or instance"
        ) from None


def _modality_row(modality: Any) -> dict[str, Any]:
    config = modality.config
    return {
        "name": modality.name,
        "aet": config.aet,
        "host": config.host,
        "port": config.port,
        "manufacturer": config.manufacturer,
    }


def _run_modalities(ctx: Context) -> int:
    """List the modalities."""
    rows = [_modality_row(modality) for modality in ctx.client().modalities.list()]
    ctx.rows(rows, ["name", "aet", "host", "port", "manufacturer"])
    return EXIT_OK


def _run_modality_add(ctx: Context) -> int:
    """Add or replace a modality and show it."""
    args = ctx.args
    modality = ctx.client().modalities.configure(
        args.name, aet=args.aet, host=args.host, port=args.port
    )
    ctx.record(_modality_row(modality))
    return EXIT_OK


def _run_modality_rm(ctx: Context) -> int:
    """Forget a modality (exit 5 if unknown)."""
    ctx.client().modalities.delete(ctx.args.name)
    ctx.info(f"modality {ctx.args.name} removed")
    return EXIT_OK


def _run_modality_echo(ctx: Context) -> int:
    """C-ECHO; a refused association raises DicomNetworkError (exit 6)."""
    modality = ctx.client().modalities.get(ctx.args.name)
    modality.c_echo()
    ctx.record({**_modality_row(modality), "echo": "ok"})
    return EXIT_OK


def _run_query(ctx: Context) -> int:
    """C-FIND at one level; one row per answer, columns in the order of the keys asked."""
    level = _level(ctx.args.level)
    query = dict.fromkeys(_RETURN_KEYS[level], "")
    query.update(parse_filters(ctx.args.filters))
    modality = ctx.client().modalities.get(ctx.args.modality)
    answers = modality.c_find(level, query).answers()
    rows = [answer.tags for answer in answers]
    keys = [*query, *(key for row in rows for key in row)]
    ctx.rows(rows, [key for key in dict.fromkeys(keys) if key not in _HIDDEN])
    ctx.info(f"{len(rows)} answer(s) from {modality.name}")
    return EXIT_OK


def _run_retrieve(ctx: Context) -> int:
    """C-MOVE (or C-GET) the resources in one association; any failure is fatal (exit 6)."""
    level = _level(ctx.args.level)
    identifiers = [{_KEYS[level]: uid} for uid in dict.fromkeys(ctx.args.uids)]
    modality = ctx.client().modalities.get(ctx.args.modality)
    if ctx.args.get:
        if ctx.args.target:
            raise OrthancInputError("--target is for C-MOVE; C-GET always retrieves to the server")
        _require_c_get(ctx.client())
        modality.c_get(level, identifiers)
    else:
        modality.c_move(level, identifiers, target_aet=ctx.args.target)
    target = "server" if ctx.args.get else ctx.args.target or "server"
    operation = "C-GET" if ctx.args.get else "C-MOVE"
    rows = [
        {"level": level, "uid": item[_KEYS[level]], "operation": operation, "target": target}
        for item in identifiers
    ]
    ctx.rows(rows, ["level", "uid", "operation", "target"])
    return EXIT_OK


def _require_c_get(client: Any) -> None:
    capabilities = client.capabilities()
    if not capabilities.supports("dicom_get"):
        raise UnsupportedFeatureError(
            f"C-GET as a client needs Orthanc 1.12.6 or later, this server is "
            f"{capabilities.system.version}; retrieve without --get uses C-MOVE"
        )


def _run_send(ctx: Context) -> int:
    """Send resources as a job with progress; exit 1 if some instances failed."""
    client = ctx.client()
    resources = resolve(client, ctx.args.ids)
    if ctx.args.to:
        destination: Any = client.modalities.get(ctx.args.to)
        label, start = f"C-STORE to {destination.name}", destination.c_store_job
    else:
        destination = client.peers.get(ctx.args.to_peer)
        label, start = f"send to peer {destination.name}", destination.send_job
    job = wait_job(ctx, start([r.id for r in resources]), label)
    content = dict(job.content)
    record = {
        "destination": destination.name,
        "resources": len(resources),
        "instances": content.get("InstancesCount", content.get("Size")),
        "failed_instances": content.get("FailedInstancesCount", 0),
        "job": job.id,
    }
    ctx.record(record if ctx.output != "json" else {**record, "content": content})
    return EXIT_PARTIAL if record["failed_instances"] else EXIT_OK


def _peer_row(peer: Any) -> dict[str, Any]:
    return {"name": peer.name, "url": peer.url, "user": peer.config.username}


def _run_peers(ctx: Context) -> int:
    """List the peers."""
    ctx.rows([_peer_row(peer) for peer in ctx.client().peers.list()], ["name", "url", "user"])
    return EXIT_OK


def _run_peer_add(ctx: Context) -> int:
    """Add or replace a peer; its password never goes on the command line."""
    args = ctx.args
    password = _peer_password(ctx) if args.peer_user else None
    peer = ctx.client().peers.configure(
        args.name, url=args.peer_url, username=args.peer_user, password=password
    )
    ctx.record(_peer_row(peer))
    return EXIT_OK


def _peer_password(ctx: Context) -> str:
    password = os.environ.get(PEER_PASSWORD_ENV)
    if password:
        return password
    if ctx.stdin.isatty():
        return getpass.getpass(f"Password of {ctx.args.peer_user} on peer {ctx.args.name}: ")
    raise OrthancInputError(
        f"--peer-user needs the peer's password: set {PEER_PASSWORD_ENV} (no terminal to ask)"
    )


def _run_peer_rm(ctx: Context) -> int:
    """Forget a peer (exit 5 if unknown)."""
    ctx.client().peers.delete(ctx.args.name)
    ctx.info(f"peer {ctx.args.name} removed")
    return EXIT_OK
