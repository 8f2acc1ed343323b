"""What modprobe knows about one kernel's modules, read as text from its module indexes (modules.dep,
modules.softdep, modules.builtin, modules.alias, modules.order) and the modprobe.d configuration, following
libkmod (see the package's docstring for the rules).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from rearbuild.collect.kernel import modules_tree
from rearbuild.collect.kmod.modinfo import read_modinfos
from rearbuild.collect.kmod.names import module_name, normalize
from rearbuild.errors import UserError


@dataclass(frozen=True)
class SoftDep:
    """One `softdep MODULE pre: ... post: ...` entry; the names are looked up when used."""

    pattern: str
    pre: tuple[str, ...]
    post: tuple[str, ...]

    @classmethod
    def parse(cls, words: Sequence[str]) -> SoftDep | None:
        """words: everything after `softdep`, e.g. ["ext4", "pre:", "crypto-crc32c"]."""
        if len(words) < 2:
            return None
        pre: list[str] = []
        post: list[str] = []
        target: list[str] | None = None  # words before any pre:/post: are ignored, as libkmod does
        for word in words[1:]:
            if word == "pre:":
                target = pre
            elif word == "post:":
                target = post
            elif target is not None:
                target.append(word)
        return cls(normalize(words[0]), tuple(pre), tuple(post))


# modprobe.d directories in libkmod's order (kmod 30 default_config_paths, plus /usr/lib/modprobe.d
# that newer kmod and non-merged-/usr systems use); a file name seen in an earlier one hides later ones.
_MODPROBE_DIRS = (
    "etc/modprobe.d",
    "run/modprobe.d",
    "usr/local/lib/modprobe.d",
    "lib/modprobe.d",
    "usr/lib/modprobe.d",
)


def _config_files(sysroot: Path, moddir: Path) -> list[Path]:
    """modprobe.d files and modules.softdep in the order libkmod parses them (sorted by file name)."""
    by_name: dict[str, Path] = {}
    for directory in _MODPROBE_DIRS:
        full = sysroot / directory
        if not full.is_dir():
            continue
        for entry in full.iterdir():
            if entry.name.startswith(".") or not entry.name.endswith((".conf", ".alias")):
                continue
            if entry.is_file():
                by_name.setdefault(entry.name, entry)
    softdep = moddir / "modules.softdep"
    if softdep.is_file():
        by_name.setdefault(softdep.name, softdep)
    return [by_name[name] for name in sorted(by_name)]


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    continued = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.endswith("\\"):  # modprobe.d allows line continuation
            continued += line[:-1] + " "
            continue
        yield number, continued + line
        continued = ""


GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class ModuleIndex:
    """What modprobe knows about one kernel's modules, read from the text indexes."""

    version: str
    directory: Path
    paths: Mapping[str, str]  # module name -> path as in modules.dep (relative to `directory`)
    deps: Mapping[str, tuple[str, ...]]  # module name -> dependencies, in modules.dep order
    builtin: frozenset[str]
    order: Mapping[str, int]  # module name -> line of modules.order (for a stable listing)
    softdeps: tuple[SoftDep, ...]  # libkmod order, first match wins
    config_aliases: tuple[tuple[str, str], ...]  # modprobe.d `alias PATTERN MODULE`
    exact_aliases: Mapping[str, tuple[tuple[int, str], ...]]  # alias -> (line, module) of modules.alias
    glob_aliases: tuple[tuple[int, str, str], ...]  # (line, pattern, module) for aliases with wildcards
    softdeps_from_modinfo: bool = False
    _lookups: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, sysroot: Path, version: str, *, config_root: Path | None = None) -> ModuleIndex:
        """Read the indexes of <sysroot>/lib/modules/VERSION and the modprobe.d files of config_root
        (default: the sysroot; for a staging tree, the system whose /etc/modprobe.d the image gets)."""
        moddir = modules_tree(sysroot, version)
        dep_file = moddir / "modules.dep"
        if not dep_file.is_file():
            raise UserError(
                f"{dep_file} does not exist: kernel {version} has no module index",
                hint=f"run `depmod {version}` (as root) to create it, or choose another kernel with -r",
            )
        paths: dict[str, str] = {}
        deps: dict[str, tuple[str, ...]] = {}
        for number, line in read_lines(dep_file):
            if not line.strip() or line.startswith("#"):
                continue
            target, sep, rest = line.partition(":")
            if not sep:
                raise UserError(
                    f"{dep_file} line {number}: expected 'module.ko: dependencies', got {line!r}",
                    hint=f"regenerate it with `depmod {version}`",
                )
            name = module_name(target)
            paths.setdefault(name, _relative(target.strip(), moddir))
            deps.setdefault(name, tuple(module_name(d) for d in rest.split()))
        builtin = frozenset(
            module_name(line.strip()) for _, line in read_lines(moddir / "modules.builtin") if line.strip()
        )
        order = {module_name(line.strip()): n for n, line in read_lines(moddir / "modules.order") if line.strip()}

        softdeps: list[SoftDep] = []
        config_aliases: list[tuple[str, str]] = []
        for path in _config_files(sysroot if config_root is None else config_root, moddir):
            for _, line in read_lines(path):
                words = line.split()
                if not words or words[0].startswith("#"):
                    continue
                if words[0] == "softdep":
                    softdep = SoftDep.parse(words[1:])
                    if softdep is not None:
                        softdeps.append(softdep)
                elif words[0] == "alias" and len(words) >= 3:
                    config_aliases.append((normalize(words[1]), normalize(words[2])))

        exact: dict[str, list[tuple[int, str]]] = {}
        globbed: list[tuple[int, str, str]] = []
        for number, line in read_lines(moddir / "modules.alias"):
            words = line.split()
            if len(words) != 3 or words[0] != "alias":
                continue
            alias, target_name = normalize(words[1]), normalize(words[2])
            if GLOB_CHARS.isdisjoint(alias):
                exact.setdefault(alias, []).append((number, target_name))
            else:
                globbed.append((number, alias, target_name))

        index = cls(
            version=version, directory=moddir, paths=paths, deps=deps, builtin=builtin, order=order,
            softdeps=tuple(softdeps), config_aliases=tuple(config_aliases),
            exact_aliases={k: tuple(v) for k, v in exact.items()}, glob_aliases=tuple(globbed),
        )  # fmt: skip
        if not (moddir / "modules.softdep").is_file():
            index = index._with_modinfo_softdeps()
        return index

    def _with_modinfo_softdeps(self) -> ModuleIndex:
        """Add `softdep=` of .modinfo, as depmod would write them to modules.softdep (after modprobe.d)."""
        infos = read_modinfos(self.file(name) for name in self.paths)
        extra = []
        for name in sorted(self.paths, key=self.sort_key):
            for value in infos[self.file(name)].get("softdep"):
                softdep = SoftDep.parse([name, *value.split()])
                if softdep is not None and (softdep.pre or softdep.post):
                    extra.append(softdep)
        # a new, empty lookup cache: the one of self must not be shared
        return replace(self, softdeps=self.softdeps + tuple(extra), softdeps_from_modinfo=True, _lookups={})

    def sort_key(self, name: str) -> tuple[int, str]:
        return (self.order.get(name, len(self.order)), self.paths.get(name, name))

    def file(self, name: str) -> Path:
        """The host path of a (non-builtin) module."""
        return self.directory / self.paths[name]

    def is_module(self, name: str) -> bool:
        return normalize(name) in self.paths

    def is_builtin(self, name: str) -> bool:
        name = normalize(name)
        return name in self.builtin and name not in self.paths

    def lookup(self, name: str) -> tuple[str, ...]:
        """Module names (loadable or builtin) a name or alias means, like kmod_module_new_from_lookup."""
        key = normalize(name)
        cached = self._lookups.get(key)
        if cached is not None:
            return cached
        found = tuple(module for pattern, module in self.config_aliases if fnmatch.fnmatchcase(key, pattern))
        if not found and key in self.paths:
            found = (key,)
        if not found:
            hits = list(self.exact_aliases.get(key, ()))
            hits += [
                (n, module)
                for n, pattern, module in self.glob_aliases
                if key.startswith(pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0])
                and fnmatch.fnmatchcase(key, pattern)
            ]
            found = tuple(dict.fromkeys(module for _, module in sorted(hits)))
        if not found and key in self.builtin:
            found = (key,)
        self._lookups[key] = found
        return found

    def softdeps_of(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(pre, post) modules of a module: the first matching softdep entry, its names looked up."""
        for softdep in self.softdeps:
            if fnmatch.fnmatchcase(name, softdep.pattern):
                pre = tuple(m for word in softdep.pre for m in self.lookup(word))
                post = tuple(m for word in softdep.post for m in self.lookup(word))
                return pre, post
        return (), ()

    def probe_list(self, name: str) -> list[str]:
        """What `modprobe --show-depends NAME` prints, in order, duplicates included (builtins too)."""
        out: list[str] = []
        for module in self.lookup(name):
            visited: set[str] = set()  # libkmod resets the visited marks for each probed module

            def get_probe_list(module: str, visited: set[str] = visited) -> None:
                if module in visited:
                    return
                visited.add(module)
                for dep in reversed(self.deps.get(module, ())):
                    fill_softdep(dep, visited)
                fill_softdep(module, visited)

            def fill_softdep(module: str, visited: set[str]) -> None:
                pre, post = self.softdeps_of(module)
                for other in pre:
                    get_probe_list(other, visited)
                out.append(module)
                for other in post:
                    get_probe_list(other, visited)

            get_probe_list(module)
        return out


def _relative(target: str, moddir: Path) -> str:
    """modules.dep paths are relative to the modules directory; very old depmod wrote absolute ones."""
    if target.startswith("/"):
        try:
            return str(PurePosixPath(target).relative_to(moddir.as_posix()))
        except ValueError:
            return str(PurePosixPath(target).relative_to(f"/lib/modules/{moddir.name}"))
    return target


def load_order(index: ModuleIndex, names: Sequence[str], *, exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """The insmod order for loading `names` one after the other with modprobe at rescue boot.

    Equal to the insmod lines of `modprobe --show-depends` for each name, first occurrence kept,
    builtin modules left out (they need no loading) and excluded ones dropped.
    """
    seen: dict[str, None] = {}
    for name in names:
        if not index.lookup(name):
            raise missing_error(index, [name], "MODULES_LOAD")
        for module in index.probe_list(name):
            if module in index.paths and not matches_any(module, exclude):
                seen.setdefault(module, None)
    return tuple(seen)


def matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, normalize(p)) for p in patterns)


def missing_error(index: ModuleIndex, names: Sequence[str], variable: str) -> UserError:
    listing = ", ".join(names)
    return UserError(
        f"{variable}: no module {listing} for kernel {index.version} "
        f"(not in {index.directory / 'modules.dep'}, not built in, no such alias)",
        hint=f"check the name with `modinfo -k {index.version} NAME`, or remove it from {variable}",
    )
