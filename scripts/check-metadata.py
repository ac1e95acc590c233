"""Check what the package index will show of a built wheel: its METADATA.

    python scripts/check-metadata.py dist/kkorthanc-*.whl

Fails (exit 1, one line per problem) on: a license without its file, a supported Python without
its classifier, an extra other than the documented ones (no empty ``cli``, no bare ``dev``), a
dependency of users without a floor, and a link that cannot work on the index page (relative
links of the long description point into a source tree the page does not have).
"""

from __future__ import annotations

import re
import sys
import zipfile
from email.message import Message
from email.parser import HeaderParser

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
USER_EXTRAS = {"numpy", "images", "pandas", "all", "dev-tools"}
_LINK = re.compile(r"\]\(([^)\s]+)")


def read_metadata(wheel: str) -> Message:
    """The wheel's ``*.dist-info/METADATA``, headers and long description."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(archive.read(name).decode("utf-8"))


def problems(metadata: Message) -> list[str]:
    """Every problem found, as sentences."""
    found = []
    if metadata.get("License-Expression") != "MIT" or not metadata.get_all("License-File"):
        found.append("the license expression or the License-File is missing")
    classifiers = set(metadata.get_all("Classifier") or [])
    for version in PYTHONS:
        if f"Programming Language :: Python :: {version}" not in classifiers:
            found.append(f"no classifier for Python {version}")
    extras = set(metadata.get_all("Provides-Extra") or [])
    if extras != USER_EXTRAS:
        found.append(f"extras {sorted(extras)}, expected {sorted(USER_EXTRAS)}")
    for requirement in metadata.get_all("Requires-Dist") or []:
        if ">=" not in requirement and "extra == 'dev-tools'" not in requirement:
            found.append(f"no floor: {requirement}")
    links = _LINK.findall(str(metadata.get_payload()))
    links += [url.split(",", 1)[-1].strip() for url in metadata.get_all("Project-URL") or []]
    for link in links:
        if not link.startswith(("https://", "http://", "#")):
            found.append(f"link {link!r} does not work on the package index page")
    return found


def main(argv: list[str]) -> int:
    (wheel,) = argv
    found = problems(read_metadata(wheel))
    for problem in found:
        print(f"check-metadata.py: {wheel}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
