"""sha256 of host files, remembered by (device, inode, size, mtime) so that collecting an unchanged host again
reads no file twice: the manifest needs every file's hash, and a kernel's modules alone are hundreds of MB."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rearbuild.checksum import sha256_file


class HashCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, str] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._entries = {str(k): str(v) for k, v in loaded.items()}
            except (OSError, ValueError):
                self._entries = {}  # a damaged cache only costs time

    def sha256(self, path: str, st: os.stat_result | None = None) -> str:
        st = st or os.stat(path)
        key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        found = self._entries.get(key)
        if found is None:
            found = sha256_file(path)
            self._entries[key] = found
            self._dirty = True
        return found

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self._entries, sort_keys=True))
        tmp.replace(self.path)
        self._dirty = False
