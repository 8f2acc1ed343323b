"""The recovery program as a Python zipapp: the rearbuild package in one file, run by the rescue system's
Python. Written reproducibly: sorted entries, one fixed date, fixed permissions, fixed compression."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

# Data ships as real files next to the zipapp (SHARE_DIR): recipes are loaded from files. An installed wheel
# carries it in rearbuild/share (setup.py), which stays out of the zipapp.
_DATA_DIRS = frozenset({"share", "__pycache__"})
_MAIN = b"from rearbuild.cli import main\n\nraise SystemExit(main())\n"
# The zip format stores DOS dates, which start in 1980 (APPNOTE.TXT 4.4.6).
_DOS_EPOCH = 315532800


def zipapp_bytes(package: Path, *, epoch: int) -> bytes:
    stamp = time.gmtime(max(epoch, _DOS_EPOCH))[:6]
    files: list[tuple[str, bytes]] = [("__main__.py", _MAIN)]
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in _DATA_DIRS or "__pycache__" in rel.parts:
            continue
        files.append((f"{package.name}/{rel.as_posix()}", path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the build machine is
            archive.writestr(info, data, compresslevel=9)
    return b"#!/usr/bin/python3 -I\n" + buffer.getvalue()
