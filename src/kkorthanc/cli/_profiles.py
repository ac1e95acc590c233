"""Connection profiles from the user's configuration file (TOML, or JSON on any Python)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import OrthancInputError

__all__ = ["PROFILE_KEYS", "config_path", "load_profile", "read_config_file"]

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
        value = json.loads(text) if path.suffix == ".json" else _toml(text, path)
    except ValueError as error:
        raise OrthancInputError(f"the configuration {path} is not valid: {error}") from error
    if not isinstance(value, dict):
        raise OrthancInputError(f"the configuration {path} must hold a table/object")
    return value


def _toml(text: str, path: Path) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    try:  # pragma: no cover - Python 3.10
        import tomli  # type: ignore[import-not-found,unused-ignore]
    except ImportError as error:  # pragma: no cover
        raise OrthancInputError(
            f"reading {path} needs Python 3.11 or the tomli package; or write it as JSON "
            f"(a .json file named by KKORTHANC_CONFIG)"
        ) from error
    return tomli.loads(text)  # pragma: no cover


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


def save_profile(name: str, settings: dict[str, Any]) -> Path:
    """Add or replace profile ``name`` in the configuration file (written as TOML or JSON).

    Raises:
        OrthancInputError: The existing file cannot be parsed.
        OSError: The file cannot be written.
    """
    path = config_path()
    config = read_config_file(path)
    config.setdefault("profiles", {})[name] = settings
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(config, indent=2) if path.suffix == ".json" else _to_toml(config)
    path.write_text(text + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def _to_toml(config: dict[str, Any]) -> str:
    lines = [f"{key} = {json.dumps(value)}" for key, value in config.items() if key != "profiles"]
    for name, profile in (config.get("profiles") or {}).items():
        lines.append(f"\n[profiles.{json.dumps(name)}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in profile.items())
    return "\n".join(lines).lstrip("\n")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
