"""Self-signed certificates for the TLS tests, made by the openssl command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["self_signed"]


def self_signed(
    folder: Path, name: str = "", *, common_name: str = "127.0.0.1", alt_names: str = "IP:127.0.0.1"
) -> tuple[Path, Path]:
    """A certificate (``[name-]cert.pem``) and its unencrypted key (``[name-]key.pem``) in
    ``folder``, valid for two days, for ``alt_names`` (openssl's subjectAltName syntax)."""
    prefix = f"{name}-" if name else ""
    cert, key = folder / f"{prefix}cert.pem", folder / f"{prefix}key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={common_name}"),
            *("-addext", f"subjectAltName={alt_names}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
