"""Who Orthanc runs as when root starts it: an unprivileged account, unless root is allowed.

Orthanc runs its plugins, Lua and Python scripts with its own rights. Started by root it would
hand those rights to whatever its configuration names, so the launcher drops to an account:
``--run-as USER``, else Debian's ``orthanc`` system account, else it refuses (``--allow-root``
keeps Orthanc as root on purpose).

One way to run a program as the account: :func:`drop_arguments`, which makes the child set its
group, clear its supplementary groups and set its user between fork and exec. Orthanc (a host
binary), PostgreSQL's programs (``initdb``, ``pg_ctl``, ``psql``) and the launcher's checks
all run that way. Two programs must first do something only root may, so they drop
themselves, right after it, to the same ids:

- a chroot binary: ``chroot`` must enter the chroot as root, then runs Orthanc as the account
  (:func:`chroot_userspec`, ``chroot --userspec UID:GID --groups GID``);
- the TLS relay (``_tls.py``): it binds the public port as root (a port below 1024 works), then
  calls ``setgroups([])``, ``setgid``, ``setuid`` itself (``--uid``/``--gid``) before it reads
  the certificate and key.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OrthancInputError
from ._options import ServerOptions

__all__ = [
    "DEFAULT_ACCOUNT",
    "Account",
    "check_reachable",
    "chroot_userspec",
    "drop_arguments",
    "lookup_account",
    "run_as_account",
]

DEFAULT_ACCOUNT = "orthanc"
"""The account Debian's ``orthanc`` package creates, used as root unless told otherwise."""


@dataclass(frozen=True)
class Account:
    """A local account Orthanc runs as (numeric ids of the host's account database).

    Raises:
        Nothing: plain data.

    Example:
        >>> Account("orthanc", 103, 106).owner
        (103, 106)
    """

    name: str
    uid: int
    gid: int

    @property
    def owner(self) -> tuple[int, int]:
        """``(uid, gid)``, for ``chown``.

        Raises:
            Nothing.

        Example:
            >>> Account("orthanc", 103, 106).owner
            (103, 106)
        """
        return self.uid, self.gid


def run_as_account(options: ServerOptions) -> Account | None:
    """The account Orthanc must run as, or None to run it as the caller.

    None when the caller is not root, or is root with ``allow_root``.

    Raises:
        OrthancInputError: ``run_as`` without root (naming another account), ``run_as`` with
            ``allow_root``, a missing account, a root account, or root without any account
            to drop to.

    Example:
        >>> run_as_account(ServerOptions(Path("d"), allow_root=True))  # doctest: +SKIP
    """
    if os.geteuid() != 0:
        if options.run_as and options.run_as != pwd.getpwuid(os.geteuid()).pw_name:
            raise OrthancInputError(
                f"--run-as {options.run_as} needs root: without it Orthanc runs as you"
            )
        return None
    if options.allow_root:
        if options.run_as:
            raise OrthancInputError("--run-as contradicts --allow-root")
        return None
    name = options.run_as or DEFAULT_ACCOUNT
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise OrthancInputError(_missing(options.run_as)) from None
    if entry.pw_uid == 0:
        raise OrthancInputError(
            f"--run-as {name} is root: give --allow-root to run Orthanc as root on purpose"
        )
    return Account(name, entry.pw_uid, entry.pw_gid)


def lookup_account(name: str) -> Account:
    """The host's account ``name`` with its numeric ids.

    Raises:
        OrthancInputError: There is no such account.

    Example:
        >>> lookup_account("root").owner
        (0, 0)
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise OrthancInputError(f"there is no account {name!r} on this machine") from None
    return Account(name, entry.pw_uid, entry.pw_gid)


def _missing(run_as: str | None) -> str:
    if run_as:
        return (
            f"there is no account {run_as!r} (--run-as): give --run-as USER of an existing "
            f"unprivileged account, or --allow-root"
        )
    return (
        "started as root, Orthanc (and its plugins and Lua scripts) would run as root: give "
        f"--run-as USER (an unprivileged account; the default, {DEFAULT_ACCOUNT!r}, does not "
        "exist here), or --allow-root to keep Orthanc as root"
    )


def drop_arguments(account: Account | None) -> dict[str, Any]:
    """The :class:`subprocess.Popen` arguments that make the child run as ``account``.

    The child sets its group, clears its supplementary groups and sets its user between fork
    and exec (``posix_spawn`` cannot); nothing to add for None.

    Raises:
        Nothing.

    Example:
        >>> drop_arguments(Account("orthanc", 103, 106))
        {'user': 103, 'group': 106, 'extra_groups': []}
    """
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def chroot_userspec(account: Account) -> list[str]:
    """The ``chroot`` options that run the command as ``account`` (numeric host ids).

    Raises:
        Nothing.

    Example:
        >>> chroot_userspec(Account("orthanc", 103, 106))
        ['--userspec=103:106', '--groups=106']
    """
    return [f"--userspec={account.uid}:{account.gid}", f"--groups={account.gid}"]


def check_reachable(account: Account, options: ServerOptions, data_dir: Path) -> None:
    """Refuse a data folder ``account`` could not reach (a parent it may not traverse).

    The test runs as the account itself (inside the chroot for a chroot binary), so modes,
    groups and ACLs all count.

    Raises:
        OrthancInputError: The account cannot traverse the folder's nearest existing parent.

    Example:
        >>> orthanc = Account("orthanc", 103, 106)
        >>> check_reachable(orthanc, ServerOptions(Path("/root/pacs")), Path("/root/pacs"))
        ... # doctest: +SKIP
        Traceback (most recent call last):
        ...
        kkorthanc.errors.OrthancInputError: Orthanc runs as 'orthanc', who cannot reach /root...
    """
    parent = data_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    binary = options.binary
    if binary.chroot is not None:
        chroot = binary.command()[0]
        command = [chroot, *chroot_userspec(account), str(binary.chroot), "test", "-x"]
        done = subprocess.run([*command, binary.inner_path(parent)], check=False, cwd="/")
    else:
        done = subprocess.run(
            ["test", "-x", str(parent)], check=False, cwd="/", **drop_arguments(account)
        )
    if done.returncode != 0:
        raise OrthancInputError(
            f"Orthanc runs as {account.name!r}, who cannot reach {parent}: make its parent "
            f"folders traversable (chmod o+x), choose a data folder it can reach (such as "
            f"/srv/NAME or /var/lib/orthanc/NAME), or give --run-as another account"
        )
