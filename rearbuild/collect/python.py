"""The Python runtime of the rescue system: the host's own interpreter and only the standard-library modules
rearbuild imports (found by modulefinder run with that interpreter, so the paths and version are its own).

The rescue system runs the same Python as the host it was made on: no second interpreter to ship or patch, and
the distribution's security updates reach the rescue image at the next mkrescue.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.paths import PACKAGE_DIR
from rearbuild.run import run

# Packages modulefinder cannot see through because they are imported by name at run time.
_ALWAYS = ("encodings",)
# Modules rearbuild never needs in a rescue system: test suites, GUI, build tools (keeps the image small).
_NEVER = (
    "tkinter",
    "idlelib",
    "test",
    "lib2to3",
    "ensurepip",
    "pydoc_data",
    "turtledemo",
    "distutils",
    "unittest",
    "doctest",
    "pydoc",
    "xmlrpc",
    "http.server",
    "email",
    "asyncio",
    "multiprocessing",
    "sqlite3",
    "curses",
    "dbm",
    "venv",
    "jinja2",
    "pycdlib",
    "markupsafe",
    # build-host only: Secure Boot and UKI checks (pefile), artifact stores (boto3), container engines (docker)
    "pefile",
    "boto3",
    "botocore",
    "s3transfer",
    "docker",
)

_FINDER = r"""
import json, modulefinder, os, sys, sysconfig
package, *excludes = sys.argv[1:]
finder = modulefinder.ModuleFinder(path=[os.path.dirname(package)] + sys.path, excludes=excludes)
for root, dirs, files in os.walk(package):
    dirs[:] = sorted(d for d in dirs if d not in ("share", "__pycache__", "testsuite"))
    for name in sorted(files):
        if name.endswith(".py"):
            try:
                finder.load_file(os.path.join(root, name))
            except ImportError:  # relative imports (borg's): import the module by its dotted name instead
                rel = os.path.relpath(os.path.join(root, name[:-3]), os.path.dirname(package))
                finder.import_hook(rel.replace(os.sep, ".").removesuffix(".__init__"))
for mod in ("encodings", "encodings.aliases", "encodings.utf_8", "encodings.latin_1", "encodings.ascii",
            "encodings.idna", "site"):
    try:
        finder.import_hook(mod)
    except ImportError:
        pass
paths = sysconfig.get_paths()
print(json.dumps({
    "files": sorted({m.__file__ for m in finder.modules.values() if m.__file__}),
    "stdlib": [paths["stdlib"], paths["platstdlib"]],
    "version": "%d.%d" % sys.version_info[:2],
}))
"""


@dataclass(frozen=True)
class PythonRuntime:
    interpreter: str
    version: str
    files: tuple[str, ...]  # host paths of the standard-library files to include


def _cache_key(interpreter: str, package: Path) -> str:
    """What the answer depends on: the interpreter (its files change with an update) and rearbuild's modules."""
    digest = hashlib.sha256()
    st = os.stat(interpreter)
    digest.update(f"{os.path.realpath(interpreter)}:{st.st_size}:{st.st_mtime_ns}".encode())
    for path in sorted(package.rglob("*.py")):
        pst = path.stat()
        digest.update(f"{path}:{pst.st_size}:{pst.st_mtime_ns}".encode())
    return digest.hexdigest()


def find_runtime(
    interpreter: str = "/usr/bin/python3",
    package: Path = PACKAGE_DIR,
    cache: Path | None = None,
    excludes: tuple[str, ...] = _NEVER,
) -> PythonRuntime:
    """cache: a file remembering the answer for an unchanged interpreter and rearbuild (saves ~0.7 s).
    package: the program whose standard-library modules are wanted (rearbuild; a backup tool written in Python).
    excludes: modules left out (rearbuild's own _NEVER list; another program may need some of them)."""
    if not os.access(interpreter, os.X_OK):
        raise UserError(
            f"the rescue system's Python {interpreter} is not there", hint="install python3 (apt-get install python3)"
        )
    key = _cache_key(interpreter, package) + ":" + ",".join(excludes)
    if cache is not None and cache.is_file():
        try:
            saved = json.loads(cache.read_text())
            if saved.get("key") == key and all(os.path.exists(f) for f in saved["files"]):
                return PythonRuntime(interpreter, str(saved["version"]), tuple(saved["files"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache only costs the time to find the answer again
    # -I: no user site, no environment; -S: no site-packages, so only the standard library is found there.
    result = run([interpreter, "-I", "-S", "-c", _FINDER, str(package), *excludes])
    data = json.loads(result.out)
    roots = tuple(dict.fromkeys(str(p) for p in data["stdlib"]))
    wanted = [f for f in data["files"] if f.startswith(roots) and "site-packages" not in f and "dist-packages" not in f]
    for name in _ALWAYS:
        for root in roots:
            directory = Path(root, name)
            if directory.is_dir():
                wanted += [str(p) for p in sorted(directory.glob("*.py"))]
    runtime = PythonRuntime(interpreter, str(data["version"]), tuple(sorted(set(wanted))))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "version": runtime.version, "files": runtime.files}))
    return runtime
