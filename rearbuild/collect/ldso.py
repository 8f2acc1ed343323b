"""The shared-library closure of programs, computed the way glibc's ld.so loads them, without running ldd.

ldd runs the program's interpreter, which can execute code from the file (ReaR lib/linux-functions.sh warns
about this) and cannot look inside a sysroot. Instead this module emulates glibc's elf/dl-load.c and
elf/dl-deps.c against a file tree:

- PT_INTERP is loaded first; DT_NEEDED entries are loaded breadth-first, and a name is loaded once per
  process: it matches an object loaded under that name or with that DT_SONAME (dl-load.c _dl_map_object),
  and a file reached under two names is one object (same device and inode).
- Search order for a name without '/' (dl-load.c _dl_map_object): if the requesting object has no
  DT_RUNPATH, the DT_RPATH of the requester, of the object that loaded it, and so on up to the executable;
  then (LD_LIBRARY_PATH, ignored: a rescue system does not have the build shell's environment) the
  requester's own DT_RUNPATH; then the ld.so cache, emulated by reading /etc/ld.so.conf and its includes;
  then the trusted system directories. DF_1_NODEFLIB skips the last two. An object with DT_RUNPATH has no
  DT_RPATH (get-dynamic-info.h).
- $ORIGIN, $LIB and $PLATFORM are substituted (dl-load.c _dl_dst_substitute); every search directory is
  preceded by its glibc-hwcaps subdirectories.
- A candidate of the wrong ELF class or machine is skipped and the search goes on (dl-load.c open_verify);
  any other unusable file (not ELF, wrong byte order or OS ABI) stops the search for that name.

Every path here is an image path: absolute, inside the tree ("sysroot"); absolute symlink targets are read
relative to the tree's root, as the rescue system (or a chroot) will see them.
"""

from __future__ import annotations

import enum
import fnmatch
import os
import stat
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rearbuild.collect.elf import ElfClass, ElfError, ElfInfo, parse_elf
from rearbuild.errors import UserError

# Linux limits a path lookup to 40 symlinks (path_resolution(7), MAXSYMLINKS); ld.so gets ELOOP past it.
MAX_SYMLINKS = 40

# ldconfig's include recursion has no limit; this one only stops an include loop.
_MAX_INCLUDE_DEPTH = 16


class FileKind(enum.Enum):
    MISSING = "missing"
    FILE = "file"
    DIR = "directory"
    SYMLINK = "symlink"
    OTHER = "other"


@dataclass(frozen=True)
class Symlink:
    """A symlink on the way to a file: `path` (an image path whose parent has no symlinks) -> `target`
    (exactly what readlink returns). Recreating it in the rescue rootfs reproduces the lookup."""

    path: str
    target: str


@dataclass(frozen=True)
class ResolvedPath:
    """Where a path leads: the symlink-free path and the symlinks crossed, in lookup order."""

    path: str
    real_path: str
    kind: FileKind
    symlinks: tuple[Symlink, ...]


@dataclass(frozen=True)
class ImageLink:
    """In a composed rootfs mapping: the image path is a symlink with this target."""

    target: str


class Tree(ABC):
    """A read-only file tree seen from its root, with the lookups the resolver needs (cached)."""

    def __init__(self) -> None:
        self._kinds: dict[str, FileKind] = {}
        self._resolved: dict[str, ResolvedPath | None] = {}
        self._elf: dict[str, ElfInfo | ElfError | None] = {}

    @abstractmethod
    def _lkind(self, path: str) -> FileKind: ...

    @abstractmethod
    def readlink(self, path: str) -> str: ...

    @abstractmethod
    def listdir(self, real_path: str) -> list[str]: ...

    @abstractmethod
    def read_bytes(self, real_path: str) -> bytes | None: ...

    @abstractmethod
    def is_executable(self, real_path: str) -> bool: ...

    @abstractmethod
    def _parse_elf(self, real_path: str) -> ElfInfo | None: ...

    def kind(self, path: str) -> FileKind:
        """The kind of `path` itself (lstat: a symlink is a symlink). The parent must be symlink-free."""
        k = self._kinds.get(path)
        if k is None:
            k = self._kinds[path] = self._lkind(path)
        return k

    def resolve(self, path: str) -> ResolvedPath | None:
        """Follow `path` like the kernel would inside this tree; None if it does not lead anywhere."""
        if path in self._resolved:
            return self._resolved[path]
        result = self._walk(path)
        self._resolved[path] = result
        return result

    def _walk(self, path: str) -> ResolvedPath | None:
        parts = deque(path.split("/"))
        cur = "/"
        kind = FileKind.DIR
        chain: list[Symlink] = []
        while parts:
            name = parts.popleft()
            if name in ("", "."):
                continue
            if kind is not FileKind.DIR:
                return None  # ENOTDIR
            if name == "..":
                cur = os.path.dirname(cur)
                continue
            candidate = cur.rstrip("/") + "/" + name
            kind = self.kind(candidate)
            if kind is FileKind.MISSING:
                return None
            if kind is FileKind.SYMLINK:
                if len(chain) >= MAX_SYMLINKS:
                    return None  # ELOOP
                target = self.readlink(candidate)
                chain.append(Symlink(candidate, target))
                if target.startswith("/"):
                    cur = "/"
                parts.extendleft(reversed(target.split("/")))
                kind = FileKind.DIR  # the components of the target are looked up from `cur`
                continue
            cur = candidate
        return ResolvedPath(path, cur, kind, tuple(chain))

    def elf(self, real_path: str) -> ElfInfo | None:
        """Parsed ELF facts of a regular file (None: not ELF). Raises ElfError for corrupt files."""
        if real_path not in self._elf:
            try:
                self._elf[real_path] = self._parse_elf(real_path)
            except ElfError as exc:
                self._elf[real_path] = exc
        cached = self._elf[real_path]
        if isinstance(cached, ElfError):
            raise cached
        return cached

    def is_dir(self, path: str) -> bool:
        r = self.resolve(path)
        return r is not None and r.kind is FileKind.DIR

    def read_text(self, path: str) -> str | None:
        r = self.resolve(path)
        if r is None or r.kind is not FileKind.FILE:
            return None
        data = self.read_bytes(r.real_path)
        return None if data is None else data.decode("utf-8", "replace")

    def glob(self, pattern: str) -> list[str]:
        """Absolute glob inside the tree, sorted like glob(3) (ldconfig's include uses glob)."""
        found = ["/"]
        for part in [p for p in pattern.split("/") if p]:
            nxt = []
            for base in found:
                prefix = base.rstrip("/") + "/"
                if not any(c in part for c in "*?["):
                    if self.resolve(prefix + part) is not None:
                        nxt.append(prefix + part)
                    continue
                r = self.resolve(base)
                if r is None or r.kind is not FileKind.DIR:
                    continue
                names = sorted(n for n in self.listdir(r.real_path) if not n.startswith("."))
                nxt.extend(prefix + n for n in names if fnmatch.fnmatchcase(n, part))
            found = nxt
        return sorted(found)


# ELF facts per file identity, shared by every DiskTree: a file under many names or in many sysroots is
# read once. The key includes size and mtime so that a rebuilt file is read again.
_ELF_BY_INODE: dict[tuple[int, int, int, int], ElfInfo | None] = {}


class DiskTree(Tree):
    """A directory on disk seen as a root file system (`/` for the running host)."""

    def __init__(self, sysroot: str | os.PathLike[str] = "/") -> None:
        super().__init__()
        root = os.path.abspath(os.fspath(sysroot))
        if not os.path.isdir(root):
            raise UserError(f"sysroot {root} is not a directory", hint="give the root of an installed system")
        self.sysroot = root
        self._prefix = "" if root == "/" else root

    def host_path(self, path: str) -> str:
        return self._prefix + path

    def _lkind(self, path: str) -> FileKind:
        try:
            mode = os.lstat(self._prefix + path).st_mode
        except OSError:
            return FileKind.MISSING
        if stat.S_ISLNK(mode):
            return FileKind.SYMLINK
        if stat.S_ISDIR(mode):
            return FileKind.DIR
        return FileKind.FILE if stat.S_ISREG(mode) else FileKind.OTHER

    def readlink(self, path: str) -> str:
        return os.readlink(self._prefix + path)

    def listdir(self, real_path: str) -> list[str]:
        try:
            return os.listdir(self._prefix + real_path)
        except OSError:
            return []

    def read_bytes(self, real_path: str) -> bytes | None:
        try:
            with open(self._prefix + real_path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def is_executable(self, real_path: str) -> bool:
        try:
            return bool(os.stat(self._prefix + real_path).st_mode & 0o111)
        except OSError:
            return False

    def _parse_elf(self, real_path: str) -> ElfInfo | None:
        host = self._prefix + real_path
        try:
            st = os.stat(host)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _ELF_BY_INODE:
            _ELF_BY_INODE[key] = parse_elf(host)
        return _ELF_BY_INODE[key]


class MappedTree(Tree):
    """A rescue rootfs that exists only as a plan: {image path: source file on the host, or ImageLink}.
    Directories are implied by the paths below them."""

    def __init__(self, entries: Mapping[str, str | ImageLink]) -> None:
        super().__init__()
        self.entries = {os.path.normpath("/" + p.lstrip("/")): v for p, v in entries.items()}
        self._children: dict[str, set[str]] = {"/": set()}
        for path in self.entries:
            child = path
            while child != "/":
                parent = os.path.dirname(child)
                self._children.setdefault(parent, set()).add(os.path.basename(child))
                child = parent

    def _lkind(self, path: str) -> FileKind:
        entry = self.entries.get(path)
        if isinstance(entry, ImageLink):
            return FileKind.SYMLINK
        if entry is not None:
            return FileKind.FILE
        return FileKind.DIR if path in self._children else FileKind.MISSING

    def readlink(self, path: str) -> str:
        entry = self.entries[path]
        assert isinstance(entry, ImageLink)
        return entry.target

    def listdir(self, real_path: str) -> list[str]:
        return sorted(self._children.get(real_path, ()))

    def _source(self, real_path: str) -> str:
        entry = self.entries[real_path]
        assert isinstance(entry, str)
        return entry

    def read_bytes(self, real_path: str) -> bytes | None:
        try:
            with open(self._source(real_path), "rb") as f:
                return f.read()
        except OSError:
            return None

    def is_executable(self, real_path: str) -> bool:
        try:
            return bool(os.stat(self._source(real_path)).st_mode & 0o111)
        except OSError:
            return False

    def _parse_elf(self, real_path: str) -> ElfInfo | None:
        return parse_elf(self._source(real_path))


# Debian multiarch triplets per (e_machine, class) (Debian's multiarch spec, wiki.debian.org/Multiarch/
# Tuples); e_machine numbers from glibc elf.h. Also the AT_PLATFORM string the kernel gives each machine.
_MULTIARCH: dict[tuple[int, ElfClass], tuple[str, str]] = {
    (62, ElfClass.ELF64): ("x86_64-linux-gnu", "x86_64"),  # EM_X86_64
    (3, ElfClass.ELF32): ("i386-linux-gnu", "i686"),  # EM_386
    (183, ElfClass.ELF64): ("aarch64-linux-gnu", "aarch64"),  # EM_AARCH64
    (40, ElfClass.ELF32): ("arm-linux-gnueabihf", "v7l"),  # EM_ARM
    (21, ElfClass.ELF64): ("powerpc64le-linux-gnu", "power8"),  # EM_PPC64
    (22, ElfClass.ELF64): ("s390x-linux-gnu", "z13"),  # EM_S390
    (243, ElfClass.ELF64): ("riscv64-linux-gnu", "riscv64"),  # EM_RISCV
}


@dataclass(frozen=True)
class LoaderCaps:
    """What the target's ld.so substitutes and searches besides the plain directories.

    lib: $LIB (Debian's glibc says "lib/x86_64-linux-gnu", Fedora's "lib64"); platform: $PLATFORM;
    trusted_dirs: the built-in system directories (`ld.so --help`, "system search path");
    hwcaps: glibc-hwcaps subdirectories in priority order (`ld.so --help`). Legacy hwcap subdirectories
    (tls/, haswell/, ... removed in glibc 2.37) are not searched.
    """

    lib: str
    platform: str
    trusted_dirs: tuple[str, ...]
    hwcaps: tuple[str, ...] = ()

    @classmethod
    def baseline(cls, tree: Tree, info: ElfInfo) -> LoaderCaps:
        """The caps of a machine without glibc-hwcaps levels: a rescue system must run on any CPU, so
        it resolves to the baseline libraries (their hwcaps variants can be added with hwcaps_variants)."""
        triplet, platform = _MULTIARCH.get((info.machine, info.elf_class), ("", ""))
        if triplet and tree.is_dir(f"/lib/{triplet}"):
            dirs: tuple[str, ...] = (f"/lib/{triplet}", f"/usr/lib/{triplet}", "/lib", "/usr/lib")
            return cls(f"lib/{triplet}", platform, dirs)
        if info.elf_class is ElfClass.ELF64:
            return cls("lib64", platform, ("/lib64", "/usr/lib64"))
        return cls("lib", platform, ("/lib", "/usr/lib"))

    @classmethod
    def from_diagnostics(cls, text: str, baseline: LoaderCaps) -> LoaderCaps:
        """The caps of a running glibc, from `ld.so --list-diagnostics` (glibc >= 2.33): its platform and
        active glibc-hwcaps subdirectories. Used to compare with ldd on the same machine."""
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip().strip('"')
        subdirs = tuple(s for s in values.get("dl_hwcaps_subdirs", "").split(":") if s)
        active = int(values.get("dl_hwcaps_subdirs_active", "0"), 0)
        # Bit i of the active mask is subdirectory i counted from the end of the list (elf/dl-hwcaps.c).
        hwcaps = tuple(s for i, s in enumerate(subdirs) if active >> (len(subdirs) - 1 - i) & 1)
        platform = values.get("dl_platform", baseline.platform)
        return cls(baseline.lib, platform, baseline.trusted_dirs, hwcaps)


class Reason(enum.Enum):
    """Why a file is in the closure."""

    ROOT = "requested"
    INTERPRETER = "program interpreter of"
    NEEDED = "DT_NEEDED of"
    DLOPEN = "dlopen()ed by"
    HWCAPS_VARIANT = "glibc-hwcaps variant of"

    @property
    def via_dlopen(self) -> bool:
        """Not something ld.so (and so ldd) loads at startup."""
        return self in (Reason.DLOPEN, Reason.HWCAPS_VARIANT)

    def describe(self, requester: str | None) -> str:
        return self.value if requester is None else f"{self.value} {requester}"


@dataclass(frozen=True)
class ClosureEntry:
    """One file of the closure: `path` as ld.so names it, `real_path` after symlinks, the symlinks on
    the way, and who asked for it under which name."""

    path: str
    real_path: str
    symlinks: tuple[Symlink, ...]
    reason: Reason
    requester: str | None
    name: str

    @property
    def why(self) -> str:
        return f"{self.name}: {self.reason.describe(self.requester)}"


@dataclass(frozen=True)
class Unresolved:
    """A library `requester` needs that cannot be found (`detail` says how the search failed)."""

    requester: str
    soname: str
    detail: str = "not found"


@dataclass(frozen=True)
class Closure:
    entries: tuple[ClosureEntry, ...]
    unresolved: tuple[Unresolved, ...]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(e.path for e in self.entries)

    @property
    def real_paths(self) -> frozenset[str]:
        return frozenset(e.real_path for e in self.entries)

    @property
    def symlinks(self) -> tuple[Symlink, ...]:
        """Every symlink to recreate, each once, in first-use order."""
        seen: dict[str, Symlink] = {}
        for entry in self.entries:
            for link in entry.symlinks:
                seen.setdefault(link.path, link)
        return tuple(seen.values())


class DlopenSource(enum.Enum):
    """Where the sonames of a KNOWN_DLOPENS rule come from."""

    FIXED = "fixed"
    NSSWITCH = "nsswitch"

    def sonames(self, rule: DlopenRule, tree: Tree) -> tuple[str, ...]:
        if self is DlopenSource.FIXED:
            return rule.sonames
        return tuple(f"libnss_{service}.so.2" for service in nss_services(tree))


@dataclass(frozen=True)
class DlopenRule:
    loader: str  # DT_SONAME of the object that dlopen()s
    source: DlopenSource
    sonames: tuple[str, ...]
    required: bool
    why: str


# Libraries loaded with dlopen() that no DT_NEEDED names, added when their loader is in the closure. A
# rescue system that lacks them fails at run time, not at start (lddtree and dracut carry the same list).
# `.note.dlopen` entries of every loaded object are added as well (required and recommended priority).
KNOWN_DLOPENS: tuple[DlopenRule, ...] = (
    DlopenRule(
        "libc.so.6",
        DlopenSource.FIXED,
        ("libgcc_s.so.1",),
        False,
        "pthread_cancel() and pthread_exit() unwind with libgcc_s, which glibc loads on first use "
        "(glibc misc/unwind-link.c); without it they abort with 'libgcc_s.so.1 must be installed'",
    ),
    DlopenRule(
        "libc.so.6",
        DlopenSource.NSSWITCH,
        (),
        False,
        "getpwnam(), getaddrinfo() and friends load libnss_<service>.so.2 for each service named in "
        "/etc/nsswitch.conf (nsswitch.conf(5)); files and dns by default",
    ),
)

# nsswitch.conf(5): without the file, glibc uses "files" (and "dns" for hosts).
_NSS_DEFAULT_SERVICES = ("files", "dns")


def nss_services(tree: Tree) -> tuple[str, ...]:
    """NSS service names in /etc/nsswitch.conf of the tree, in first-use order (actions [..] skipped)."""
    text = tree.read_text("/etc/nsswitch.conf")
    if text is None:
        return _NSS_DEFAULT_SERVICES
    services: dict[str, None] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        _db, sep, spec = line.partition(":")
        if not sep:
            continue
        in_action = False
        for word in spec.split():
            if word.startswith("["):
                in_action = True
            if not in_action:
                services.setdefault(word, None)
            if word.endswith("]"):
                in_action = False
    return tuple(services)


def ld_so_conf_dirs(tree: Tree, conf: str = "/etc/ld.so.conf") -> tuple[str, ...]:
    """The directories ldconfig puts in the cache, from ld.so.conf and its `include` globs (ldconfig(8));
    a relative include pattern is relative to the including file's directory, as ldconfig does."""
    dirs: dict[str, None] = {}
    _read_conf(tree, conf, dirs, 0)
    return tuple(dirs)


def _read_conf(tree: Tree, conf: str, dirs: dict[str, None], depth: int) -> None:
    text = tree.read_text(conf)
    if text is None or depth > _MAX_INCLUDE_DEPTH:
        return
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "include" and len(words) > 1:
            for pattern in words[1:]:
                if not pattern.startswith("/"):
                    pattern = os.path.dirname(conf) + "/" + pattern
                for path in tree.glob(pattern):
                    _read_conf(tree, path, dirs, depth + 1)
        elif words[0] == "hwcap":
            continue  # obsolete, ignored by ldconfig since glibc 2.37 and unused on Debian
        else:
            # Old syntax "dir=TYPE" names a library type; ldconfig strips it and trailing slashes.
            directory = line.split("=", 1)[0].strip().rstrip("/") or "/"
            if directory.startswith("/"):
                dirs.setdefault(directory, None)


def _looks_like_cached_library(name: str) -> bool:
    """ldconfig only puts files named lib*.so* or ld-*.so* in the cache (elf/ldconfig.c search_dir)."""
    return (name.startswith("lib") or name.startswith("ld-")) and ".so" in name


@dataclass(eq=False)
class _Object:
    """A loaded object in one emulated process (glibc's struct link_map)."""

    path: str
    real_path: str
    info: ElfInfo
    loader: _Object | None
    origin: str
    names: set[str] = field(default_factory=set)


class _Found:
    __slots__ = ("path", "resolved")

    def __init__(self, path: str, resolved: ResolvedPath) -> None:
        self.path = path
        self.resolved = resolved


class Resolver:
    """Computes closures inside one tree; parsed files and searches are cached across calls.

    caps: the target loader's substitutions and hwcaps; None derives a baseline per program.
    dlopen: add KNOWN_DLOPENS and `.note.dlopen` libraries. hwcaps_variants: add every glibc-hwcaps
    variant found next to a resolved library, for a rescue system whose CPU is not known yet.
    """

    def __init__(
        self,
        tree: Tree | str = "/",
        *,
        caps: LoaderCaps | None = None,
        dlopen: bool = True,
        hwcaps_variants: bool = False,
    ) -> None:
        self.tree = tree if isinstance(tree, Tree) else DiskTree(tree)
        self.caps = caps
        self.dlopen = dlopen
        self.hwcaps_variants = hwcaps_variants
        self._conf_dirs: tuple[str, ...] | None = None
        self._search_cache: dict[tuple[object, ...], _Found | Unresolved] = {}
        self._caps_cache: dict[tuple[int, ElfClass], LoaderCaps] = {}
        self._scripts_open: set[str] = set()  # `#!` scripts being followed, against interpreter loops

    # -- public -----------------------------------------------------------------------------------

    def closure(self, roots: Iterable[str]) -> Closure:
        """The files needed to run each root (image paths); each root is its own process."""
        entries: dict[str, ClosureEntry] = {}
        unresolved: dict[Unresolved, None] = {}
        for root in roots:
            for entry in self._root_closure(root, unresolved):
                entries.setdefault(entry.path, entry)
        return Closure(tuple(entries.values()), tuple(unresolved))

    # -- one process ------------------------------------------------------------------------------

    def _caps_for(self, info: ElfInfo) -> LoaderCaps:
        if self.caps is not None:
            return self.caps
        key = (info.machine, info.elf_class)
        if key not in self._caps_cache:
            self._caps_cache[key] = LoaderCaps.baseline(self.tree, info)
        return self._caps_cache[key]

    def _root_closure(self, root: str, unresolved: dict[Unresolved, None]) -> list[ClosureEntry]:
        resolved = self.tree.resolve(root)
        if resolved is None or resolved.kind is not FileKind.FILE:
            raise UserError(f"{root} does not exist in {self._where()}", hint="check the program list")
        out = [ClosureEntry(root, resolved.real_path, resolved.symlinks, Reason.ROOT, None, root)]
        info = self.tree.elf(resolved.real_path)
        if info is None:
            out.extend(self._script_interpreter(root, resolved.real_path, unresolved))
            return out
        if not info.is_dynamic and info.interpreter is None:
            return out  # statically linked: nothing to load
        # The kernel resolves the executable's symlinks (/proc/self/exe), so $ORIGIN of a program is the
        # directory of its real path; a library root (dlopen()ed by path) keeps its own directory.
        origin = os.path.dirname(resolved.real_path if info.interpreter else root)
        main = _Object(root, resolved.real_path, info, None, origin)
        caps = self._caps_for(info)
        loaded: list[_Object] = [main]
        by_name: dict[str, _Object] = {}
        by_file: dict[str, _Object] = {resolved.real_path: main}
        if info.soname:
            by_name[info.soname] = main
        if info.interpreter:
            interp = self.tree.resolve(info.interpreter)
            interp_info = self._elf_or_none(interp)
            if interp is None or interp_info is None:
                unresolved.setdefault(Unresolved(root, info.interpreter, "program interpreter missing"))
            else:
                out.append(
                    ClosureEntry(
                        info.interpreter, interp.real_path, interp.symlinks, Reason.INTERPRETER, root,
                        info.interpreter,
                    )
                )  # fmt: skip
                rtld = _Object(info.interpreter, interp.real_path, interp_info, main, "")
                by_file[interp.real_path] = rtld
                by_name[info.interpreter] = rtld
                if interp_info.soname:
                    by_name[interp_info.soname] = rtld
        self._load_needed(loaded, 0, main, caps, by_name, by_file, out, unresolved, Reason.NEEDED)
        if self.dlopen:
            self._load_dlopens(loaded, main, caps, by_name, by_file, out, unresolved)
        if self.hwcaps_variants:
            out.extend(self._hwcaps_variants(out))
        return out

    def _load_needed(
        self,
        loaded: list[_Object],
        start: int,
        main: _Object,
        caps: LoaderCaps,
        by_name: dict[str, _Object],
        by_file: dict[str, _Object],
        out: list[ClosureEntry],
        unresolved: dict[Unresolved, None],
        reason: Reason,
    ) -> None:
        """Breadth-first over loaded[start:], as elf/dl-deps.c _dl_map_object_deps walks its queue."""
        i = start
        while i < len(loaded):
            obj = loaded[i]
            i += 1
            for name in obj.info.needed:
                self._load(name, obj, main, caps, by_name, by_file, loaded, out, unresolved, reason, True)

    def _load(
        self,
        name: str,
        requester: _Object,
        main: _Object,
        caps: LoaderCaps,
        by_name: dict[str, _Object],
        by_file: dict[str, _Object],
        loaded: list[_Object],
        out: list[ClosureEntry],
        unresolved: dict[Unresolved, None],
        reason: Reason,
        required: bool,
    ) -> bool:
        if name in by_name:
            return True
        found = self._search(name, requester, main, caps)
        if isinstance(found, Unresolved):
            if required:
                unresolved.setdefault(found)
            return False
        existing = by_file.get(found.resolved.real_path)
        if existing is not None:
            by_name[name] = existing
            return True
        info = self.tree.elf(found.resolved.real_path)
        assert info is not None  # _search only returns ELF files
        obj = _Object(found.path, found.resolved.real_path, info, requester, os.path.dirname(found.path))
        by_name[name] = obj
        if info.soname:
            by_name.setdefault(info.soname, obj)
        by_file[obj.real_path] = obj
        loaded.append(obj)
        out.append(ClosureEntry(found.path, obj.real_path, found.resolved.symlinks, reason, requester.path, name))
        return True

    def _load_dlopens(
        self,
        loaded: list[_Object],
        main: _Object,
        caps: LoaderCaps,
        by_name: dict[str, _Object],
        by_file: dict[str, _Object],
        out: list[ClosureEntry],
        unresolved: dict[Unresolved, None],
    ) -> None:
        i = 0
        while i < len(loaded):
            obj = loaded[i]
            i += 1
            wanted: list[tuple[tuple[str, ...], bool]] = []
            for rule in KNOWN_DLOPENS:
                if obj.info.soname == rule.loader:
                    wanted.extend(((s,), rule.required) for s in rule.source.sonames(rule, self.tree))
            for note in obj.info.dlopen:
                if note.priority.include_in_rescue:
                    wanted.append((note.sonames, note.priority.missing_is_error))
            for alternatives, required in wanted:
                start = len(loaded)
                ok = any(
                    self._load(s, obj, main, caps, by_name, by_file, loaded, out, unresolved, Reason.DLOPEN, False)
                    for s in alternatives
                )
                if not ok and required and alternatives:
                    unresolved.setdefault(Unresolved(obj.path, alternatives[0], "dlopen() target not found"))
                # The dlopen()ed library's own dependencies, before looking at the next object.
                self._load_needed(loaded, start, main, caps, by_name, by_file, out, unresolved, Reason.NEEDED)

    def _hwcaps_variants(self, entries: list[ClosureEntry]) -> list[ClosureEntry]:
        extra = []
        for entry in entries:
            if entry.reason in (Reason.ROOT, Reason.HWCAPS_VARIANT) or "/glibc-hwcaps/" in entry.path:
                continue
            directory, name = os.path.split(entry.path)
            for level in self.tree.glob(f"{directory}/glibc-hwcaps/*/{name}"):
                r = self.tree.resolve(level)
                if r is not None and r.kind is FileKind.FILE:
                    extra.append(ClosureEntry(level, r.real_path, r.symlinks, Reason.HWCAPS_VARIANT, entry.path, name))
        return extra

    def _script_interpreter(self, root: str, real_path: str, unresolved: dict[Unresolved, None]) -> list[ClosureEntry]:
        """A `#!` script needs its interpreter (execve(2)), and the interpreter its closure."""
        data = self.tree.read_bytes(real_path)
        if data is None or not data.startswith(b"#!"):
            return []
        words = data[2:].split(b"\n", 1)[0].split()
        if not words:
            return []
        interp = words[0].decode("utf-8", "surrogateescape")
        if interp in self._scripts_open:
            unresolved.setdefault(Unresolved(root, interp, "script interpreter loop"))
            return []
        r = self.tree.resolve(interp)
        if r is None or r.kind is not FileKind.FILE:
            unresolved.setdefault(Unresolved(root, interp, "script interpreter missing"))
            return []
        entries = []
        self._scripts_open.add(root)
        try:
            interp_closure = self._root_closure(interp, unresolved)
        finally:
            self._scripts_open.discard(root)
        for entry in interp_closure:
            if entry.reason is Reason.ROOT:
                entry = ClosureEntry(entry.path, entry.real_path, entry.symlinks, Reason.INTERPRETER, root, interp)
            entries.append(entry)
        return entries

    # -- the search ---------------------------------------------------------------------------------

    def _elf_or_none(self, resolved: ResolvedPath | None) -> ElfInfo | None:
        if resolved is None or resolved.kind is not FileKind.FILE:
            return None
        try:
            return self.tree.elf(resolved.real_path)
        except ElfError:
            return None

    def _expand(self, text: str, obj: _Object, caps: LoaderCaps) -> str:
        """Substitute $ORIGIN, $LIB, $PLATFORM (and their ${} forms) like dl-load.c _dl_dst_substitute."""
        for token, value in (("ORIGIN", obj.origin), ("LIB", caps.lib), ("PLATFORM", caps.platform)):
            text = text.replace("${" + token + "}", value)
            text = _replace_token(text, "$" + token, value)
        return text

    def _path_dirs(self, value: str, obj: _Object, caps: LoaderCaps) -> tuple[str, ...]:
        """A DT_RPATH/DT_RUNPATH list as directories. Relative entries (also the empty one, meaning the
        current directory) depend on where the program is started from and cannot be followed here."""
        dirs = []
        for part in self._expand(value, obj, caps).split(":"):
            if part.startswith("/"):
                dirs.append(os.path.normpath(part))
        return tuple(dirs)

    def _rpath_chain(self, obj: _Object, main: _Object, caps: LoaderCaps) -> tuple[str, ...]:
        """DT_RPATH of obj, of the object that loaded it, ..., of the executable (dl-load.c)."""
        if obj.info.runpath is not None:
            return ()
        dirs: list[str] = []
        chain: _Object | None = obj
        seen_main = False
        while chain is not None:
            if chain.info.effective_rpath:
                dirs.extend(self._path_dirs(chain.info.effective_rpath, chain, caps))
            seen_main |= chain is main
            chain = chain.loader
        if not seen_main and main.info.effective_rpath:
            dirs.extend(self._path_dirs(main.info.effective_rpath, main, caps))
        return tuple(dirs)

    def _search(self, name: str, obj: _Object, main: _Object, caps: LoaderCaps) -> _Found | Unresolved:
        compat = (main.info.elf_class, main.info.byte_order, main.info.machine)
        if "/" in name:
            path = self._expand(name, obj, caps)
            if not path.startswith("/"):
                return Unresolved(obj.path, name, "relative path depends on the working directory")
            key: tuple[object, ...] = ("path", path, compat)
            if key not in self._search_cache:
                self._search_cache[key] = self._try_dirs(name, [os.path.dirname(path)], main, obj, False, caps)
            return self._retarget(self._search_cache[key], obj)
        rpath = self._rpath_chain(obj, main, caps)
        runpath = self._path_dirs(obj.info.runpath, obj, caps) if obj.info.runpath else ()
        key = (name, rpath, runpath, obj.info.nodeflib, compat, caps)
        if key not in self._search_cache:
            self._search_cache[key] = self._search_uncached(name, obj, main, rpath, runpath, caps)
        return self._retarget(self._search_cache[key], obj)

    @staticmethod
    def _retarget(result: _Found | Unresolved, obj: _Object) -> _Found | Unresolved:
        if isinstance(result, Unresolved) and result.requester != obj.path:
            return Unresolved(obj.path, result.soname, result.detail)
        return result

    def _search_uncached(
        self,
        name: str,
        obj: _Object,
        main: _Object,
        rpath: tuple[str, ...],
        runpath: tuple[str, ...],
        caps: LoaderCaps,
    ) -> _Found | Unresolved:
        for dirs in (rpath, runpath):
            found = self._try_dirs(name, self._with_hwcaps(dirs, caps), main, obj, False, caps)
            if not (isinstance(found, Unresolved) and found.detail == "not found"):
                return found
        if obj.info.nodeflib:
            return Unresolved(obj.path, name, "not found (DF_1_NODEFLIB)")
        # The cache: glibc-hwcaps entries of every directory first, by priority (elf/dl-cache.c), then the
        # plain ones; only names ldconfig would have recorded.
        if _looks_like_cached_library(name):
            cache_dirs = tuple(dict.fromkeys(self._ld_so_conf() + caps.trusted_dirs))
            hw = [f"{d}/glibc-hwcaps/{level}" for level in caps.hwcaps for d in cache_dirs]
            found = self._try_dirs(name, [*hw, *cache_dirs], main, obj, True, caps)
            if not (isinstance(found, Unresolved) and found.detail == "not found"):
                return found
        return self._try_dirs(name, self._with_hwcaps(caps.trusted_dirs, caps), main, obj, False, caps)

    @staticmethod
    def _with_hwcaps(dirs: Sequence[str], caps: LoaderCaps) -> list[str]:
        out: list[str] = []
        for d in dirs:
            out.extend(f"{d}/glibc-hwcaps/{level}" for level in caps.hwcaps)
            out.append(d)
        return out

    def _ld_so_conf(self) -> tuple[str, ...]:
        if self._conf_dirs is None:
            self._conf_dirs = ld_so_conf_dirs(self.tree)
        return self._conf_dirs

    def _try_dirs(
        self,
        name: str,
        dirs: Sequence[str],
        main: _Object,
        obj: _Object,
        soname_must_match: bool,
        caps: LoaderCaps,
    ) -> _Found | Unresolved:
        base = os.path.basename(name)
        for d in dirs:
            path = (d.rstrip("/") + "/" + base) if d != "/" else "/" + base
            resolved = self.tree.resolve(path)
            if resolved is None or resolved.kind is not FileKind.FILE:
                continue
            try:
                info = self.tree.elf(resolved.real_path)
            except ElfError as exc:
                return Unresolved(obj.path, name, f"{path}: {exc.message}")
            if info is None:
                return Unresolved(obj.path, name, f"{path}: invalid ELF header")
            if info.elf_class is not main.info.elf_class or info.machine != main.info.machine:
                continue  # not fatal in open_verify: multilib systems hold both classes
            if not info.compatible_with(main.info):
                return Unresolved(obj.path, name, f"{path}: ELF byte order or OS ABI does not match")
            if soname_must_match and (info.soname or base) != base:
                continue  # ldconfig keys the cache by DT_SONAME
            return _Found(path, resolved)
        return Unresolved(obj.path, name, "not found")

    def _where(self) -> str:
        return self.tree.sysroot if isinstance(self.tree, DiskTree) else "the rootfs"


def _replace_token(text: str, token: str, value: str) -> str:
    """Replace `$NAME` only where the next character cannot continue a name ($LIBX is not $LIB)."""
    out = []
    i = 0
    while True:
        j = text.find(token, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        end = j + len(token)
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            out.append(text[i:end])
        else:
            out.append(text[i:j] + value)
        i = end


# -- module-level helpers -------------------------------------------------------------------------


def resolve_closure(
    roots: Iterable[str],
    sysroot: str = "/",
    *,
    caps: LoaderCaps | None = None,
    dlopen: bool = True,
    hwcaps_variants: bool = False,
) -> Closure:
    """The closure of the given programs and libraries (absolute paths inside sysroot)."""
    return Resolver(sysroot, caps=caps, dlopen=dlopen, hwcaps_variants=hwcaps_variants).closure(roots)


def resolve_path(path: str, sysroot: str = "/") -> ResolvedPath | None:
    """Follow path inside sysroot, listing the symlinks crossed; None if it leads nowhere."""
    return DiskTree(sysroot).resolve(path)


def find_program(name: str, path: Sequence[str], sysroot: str | Tree = "/") -> str | None:
    """Like `which`: the first `dir/name` on path (image directories) that is an executable regular file
    inside sysroot; a name with '/' is checked as it is. Returns the image path, symlinks not followed."""
    tree = sysroot if isinstance(sysroot, Tree) else DiskTree(sysroot)
    candidates = [name] if "/" in name else [d.rstrip("/") + "/" + name for d in path if d.startswith("/")]
    for candidate in candidates:
        r = tree.resolve(candidate)
        if r is not None and r.kind is FileKind.FILE and tree.is_executable(r.real_path):
            return candidate
    return None


def verify_rootfs(entries: Mapping[str, str | ImageLink], *, caps: LoaderCaps | None = None) -> tuple[Unresolved, ...]:
    """Every DT_NEEDED (and program interpreter) of every dynamic ELF file in a composed rootfs that ld.so
    could not resolve inside it. `entries` maps image paths to host source files or ImageLinks.
    This is ReaR's 990_verify_rootfs.sh (ldd in a chroot) without a chroot."""
    tree = MappedTree(entries)
    resolver = Resolver(tree, caps=caps, dlopen=False)
    unresolved: dict[Unresolved, None] = {}
    for path, entry in sorted(tree.entries.items()):
        if isinstance(entry, ImageLink):
            continue
        try:
            info = tree.elf(path)
        except ElfError as exc:
            unresolved.setdefault(Unresolved(path, "", exc.message))
            continue
        if info is None or not info.is_dynamic:
            continue
        for missing in resolver.closure([path]).unresolved:
            unresolved.setdefault(missing)
    return tuple(unresolved)
