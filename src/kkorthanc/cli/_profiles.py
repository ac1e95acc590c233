"""Connection profiles from the user's configuration file (TOML, or JSON on any Python)."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._util.atomic_file import AtomicFile
from ..errors import OrthancInputError

__all__ = [
    "PROFILE_KEYS",
    "config_path",
    "edit_toml_profile",
    "load_profile",
    "read_config_file",
    "save_profile",
    "write_private_file",
]

PROFILE_KEYS = ("url", "user", "password", "token", "ca", "insecure", "timeout")


def config_path() -> Path:
    """``$KKORTHANC_CONFIG``, else ``$XDG_CONFIG_HOME/kkorthanc/config.toml``
    (``~/.config/kkorthanc/config.toml``)."""
    explicit = os.environ.get("KKORTHANC_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kkorthanc" / "config.toml"


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the configuration file; a missing file is an empty configuration.

    Raises:
        OrthancInputError: The file cannot be parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise OrthancInputError(f"cannot read the configuration {path}: {error}") from error
    try:
        value = json.loads(text) if path.suffix == ".json" else _toml(text)
    except ValueError as error:
        raise OrthancInputError(f"the configuration {path} is not valid: {error}") from error
    if not isinstance(value, dict):
        raise OrthancInputError(f"the configuration {path} must hold a table/object")
    return value


def _toml(text: str) -> Any:
    """Parse TOML with the standard library, or with tomli (a dependency) on Python 3.10."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.loads(text)


def load_profile(name: str | None) -> dict[str, Any]:
    """The settings of profile ``name``, or of the file's ``default`` profile when ``name`` is None.

    Raises:
        OrthancInputError: The profile does not exist, or has unknown keys.
    """
    path = config_path()
    config = read_config_file(path)
    profiles = config.get("profiles") or {}
    chosen = name or config.get("default")
    if chosen is None:
        return {}
    profile = profiles.get(chosen)
    if not isinstance(profile, dict):
        known = ", ".join(sorted(profiles)) or "none"
        raise OrthancInputError(f"no profile {chosen!r} in {path} (profiles: {known})")
    unknown = sorted(set(profile) - set(PROFILE_KEYS))
    if unknown:
        raise OrthancInputError(
            f"profile {chosen!r} in {path} has unknown keys {unknown}; known: {list(PROFILE_KEYS)}"
        )
    return profile


def save_profile(name: str, settings: Mapping[str, Any]) -> Path:
    """Add or replace profile ``name`` in the configuration file, changing nothing else.

    In a TOML file only the ``[profiles.NAME]`` table is replaced (or appended): comments,
    other tables and their formatting stay byte for byte. A JSON file is rewritten with the same
    content plus the profile. Either way the file is written atomically (a private temporary
    file renamed over it), with mode 0600, and never through a symbolic link.

    Args:
        name: The profile's name.
        settings: Its keys (from :data:`PROFILE_KEYS`); None values are left out.

    Returns:
        The configuration file's path.

    Raises:
        OrthancInputError: An unknown key or value type, a file that cannot be parsed or edited
            without touching other parts, or a configuration path that is a symbolic link.
        OSError: The file cannot be written.

    Example:
        >>> save_profile("local", {"url": "http://127.0.0.1:8042"})  # doctest: +SKIP
        PosixPath('/home/alice/.config/kkorthanc/config.toml')
    """
    path = config_path()
    wanted = _profile_table(name, settings)
    if path.is_symlink():
        raise OrthancInputError(
            f"{path} is a symbolic link: kkorthanc writes no configuration through a link; "
            f"point KKORTHANC_CONFIG to the real file"
        )
    text = _read_text(path)
    config = _parse(text, path)
    config.setdefault("profiles", {})[name] = wanted
    if path.suffix == ".json":
        new_text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    else:
        new_text = edit_toml_profile(text, name, wanted)
        _check_edit(new_text, config, path, name)
    write_private_file(path, new_text)
    return path


def _check_edit(text: str, expected: dict[str, Any], path: Path, name: str) -> None:
    """The edited file must parse to the old content with only the profile changed."""
    try:
        same = _parse(text, path) == expected
    except OrthancInputError:
        same = False
    if not same:
        raise OrthancInputError(
            f"profile {name!r} cannot be saved in {path} without touching the rest of the file "
            f"(profiles written as inline tables or dotted keys): make it a [profiles.{name}] "
            f"table, or edit the file by hand"
        )


def _profile_table(name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    if not name:
        raise OrthancInputError("a profile needs a name")
    unknown = sorted(set(settings) - set(PROFILE_KEYS))
    if unknown:
        raise OrthancInputError(f"unknown profile keys {unknown}; known: {list(PROFILE_KEYS)}")
    return {key: value for key, value in settings.items() if value is not None}


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise OrthancInputError(f"cannot read the configuration {path}: {error}") from error


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}") if path.suffix == ".json" else _toml(text)
    except ValueError as error:
        raise OrthancInputError(f"the configuration {path} is not valid: {error}") from error
    if not isinstance(value, dict):
        raise OrthancInputError(f"the configuration {path} must hold a table/object")
    return value


# A TOML table header line, ``[a."b".c]`` or ``[[array]]``, with an optional comment.
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_HEADER = re.compile(
    rf"^[ \t]*\[\[?[ \t]*(?P<key>{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*)[ \t]*\]\]?"
    r"[ \t]*(?:#[^\n]*)?\r?\n?$"
)
_KEY_PARTS = re.compile(_KEY_PART)


def edit_toml_profile(text: str, name: str, settings: Mapping[str, Any]) -> str:
    """``text`` with the ``[profiles.NAME]`` table replaced by ``settings`` (appended when absent).

    Every other line is kept as it is, and so are the comments and blank lines just above the
    next table.

    Raises:
        OrthancInputError: A value TOML cannot hold here (only strings, numbers and booleans).

    Example:
        >>> print(edit_toml_profile('# mine\\n[other]\\nx = [1]\\n', "lab", {"url": "u"}), end="")
        # mine
        [other]
        x = [1]
        <BLANKLINE>
        [profiles."lab"]
        url = "u"
    """
    table = _toml_table(name, settings)
    lines = text.splitlines(keepends=True)
    span = _table_span(lines, ["profiles", name])
    if span is None:
        head = text if not text or text.endswith("\n") else text + "\n"
        return head + ("\n" if head.strip() else "") + table
    start, end = span
    return "".join(lines[:start]) + table + "".join(lines[end:])


def _table_span(lines: list[str], key: list[str]) -> tuple[int, int] | None:
    """The lines of table ``key``: from its header to the last key line before the next header."""
    headers = [(i, _header_key(line)) for i, line in enumerate(lines) if _HEADER.match(line)]
    for position, (index, parts) in enumerate(headers):
        if parts == key and not lines[index].lstrip().startswith("[["):
            end = headers[position + 1][0] if position + 1 < len(headers) else len(lines)
            while end > index + 1 and _is_blank_or_comment(lines[end - 1]):
                end -= 1
            return index, end
    return None


def _header_key(line: str) -> list[str] | None:
    match = _HEADER.match(line)
    if match is None:
        return None
    parts: list[str] = []
    for part in _KEY_PARTS.findall(match["key"]):
        if part.startswith('"'):
            try:
                part = json.loads(part)
            except ValueError:
                return None
        elif part.startswith("'"):
            part = part[1:-1]
        parts.append(part)
    return parts


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _toml_table(name: str, settings: Mapping[str, Any]) -> str:
    lines = [f"[profiles.{_toml_string(name)}]"]
    lines.extend(f"{key} = {_toml_value(key, value)}" for key, value in settings.items())
    return "".join(line + "\n" for line in lines)


def _toml_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise OrthancInputError(f"profile key {key!r}: cannot store {value!r} (a string or a number)")


def _toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600, flushed to the disk (the one atomic
    writer, :class:`kkorthanc._util.atomic_file.AtomicFile`: a rename replaces a link, never writes
    through it).

    Raises:
        OSError: The folder or the file cannot be written.

    Example:
        >>> write_private_file(Path("config.toml"), 'default = "local"\\n')  # doctest: +SKIP
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with AtomicFile(path, fsync=True) as stream:
        stream.write(text.encode("utf-8"))
