"""The state of one emulated process: what the loading and search functions share while one program's
libraries are loaded, instead of nine to eleven parameters handed from function to function."""

from __future__ import annotations

from dataclasses import dataclass, field

from rearbuild.collect.elf import ByteOrder, ElfClass, ElfInfo
from rearbuild.collect.ldso.caps import LoaderCaps
from rearbuild.collect.ldso.closure import ClosureEntry, Unresolved
from rearbuild.collect.ldso.conf import ld_so_conf_dirs
from rearbuild.collect.ldso.tree import ResolvedPath, Tree


@dataclass(eq=False)
class LoadedObject:
    """A loaded object in one emulated process (glibc's struct link_map)."""

    path: str
    real_path: str
    info: ElfInfo
    loader: LoadedObject | None
    origin: str
    names: set[str] = field(default_factory=set)


class Found:
    __slots__ = ("path", "resolved")

    def __init__(self, path: str, resolved: ResolvedPath) -> None:
        self.path = path
        self.resolved = resolved


@dataclass(eq=False)
class SearchCache:
    """What searches inside one tree reuse across processes: results by search key, and the directories of
    ld.so.conf (read once, when a search first reaches the cache)."""

    tree: Tree
    results: dict[tuple[object, ...], Found | Unresolved] = field(default_factory=dict)
    conf_dirs: tuple[str, ...] | None = None

    def ld_so_conf(self) -> tuple[str, ...]:
        if self.conf_dirs is None:
            self.conf_dirs = ld_so_conf_dirs(self.tree)
        return self.conf_dirs


@dataclass(eq=False)
class Process:
    """One emulated process (one root): the tree and its shared search cache, the loader's caps, the
    executable, the objects loaded so far (in load order, by name and by file), and the results.

    A name is loaded once per process: it matches an object loaded under that name or with that DT_SONAME,
    and a file reached under two names is one object (dl-load.c _dl_map_object). `unresolved` is shared by
    every root of one closure, so that each missing library is reported once.
    """

    cache: SearchCache
    caps: LoaderCaps
    main: LoadedObject
    entries: list[ClosureEntry]
    unresolved: dict[Unresolved, None]
    loaded: list[LoadedObject] = field(default_factory=list)
    by_name: dict[str, LoadedObject] = field(default_factory=dict)
    by_file: dict[str, LoadedObject] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        cache: SearchCache,
        caps: LoaderCaps,
        main: LoadedObject,
        entries: list[ClosureEntry],
        unresolved: dict[Unresolved, None],
    ) -> Process:
        """A process that has loaded only its executable (or root library) `main`."""
        proc = cls(cache, caps, main, entries, unresolved, [main], {}, {main.real_path: main})
        if main.info.soname:
            proc.by_name[main.info.soname] = main
        return proc

    @property
    def tree(self) -> Tree:
        return self.cache.tree

    @property
    def compat(self) -> tuple[ElfClass, ByteOrder, int]:
        """What a library must share with the executable to be loaded (its class, byte order, machine)."""
        info = self.main.info
        return (info.elf_class, info.byte_order, info.machine)

    def has(self, name: str) -> bool:
        return name in self.by_name

    def add_interpreter(self, name: str, rtld: LoadedObject) -> None:
        """The program interpreter is mapped by the kernel, not searched, but answers to its names."""
        self.by_file[rtld.real_path] = rtld
        self.by_name[name] = rtld
        if rtld.info.soname:
            self.by_name[rtld.info.soname] = rtld

    def alias(self, name: str, real_path: str) -> bool:
        """Record `name` for an object already loaded from `real_path`; False if no object has that file."""
        existing = self.by_file.get(real_path)
        if existing is None:
            return False
        self.by_name[name] = existing
        return True

    def add(self, name: str, obj: LoadedObject, entry: ClosureEntry) -> None:
        """A newly loaded object, found under `name`; its dependencies are loaded after those before it."""
        self.by_name[name] = obj
        if obj.info.soname:
            self.by_name.setdefault(obj.info.soname, obj)
        self.by_file[obj.real_path] = obj
        self.loaded.append(obj)
        self.entries.append(entry)

    def report(self, missing: Unresolved) -> None:
        self.unresolved.setdefault(missing)
