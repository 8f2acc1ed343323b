"""Kernel modules and firmware for the rescue image, chosen the way ReaR's MODULES variables say.

Everything is read as text from the module indexes of <sysroot>/lib/modules/KVER (modules.dep,
modules.softdep, modules.builtin, modules.alias, modules.order), the modprobe.d configuration of the
sysroot and the .modinfo ELF section of each module file: no modprobe or modinfo process per module.
The resolution follows libkmod (kmod 30, Debian 12) so that what we copy is exactly what `modprobe`
will load in the rescue system:

- names: '-' and '_' are the same (libkmod `underscores()`), except inside [...] of a glob;
- lookup of a name (kmod_module_new_from_lookup): modprobe.d `alias` lines, then modules.dep, then
  modules.alias (globs), then modules.builtin;
- softdeps (kmod_module_get_softdeps): the FIRST `softdep` entry whose module pattern matches wins.
  Entries come from the modprobe.d files and from modules.softdep, which libkmod sorts with the .conf
  files by file name (so aliases.conf beats modules.softdep, zzz.conf does not). Words before `pre:`
  or `post:` are ignored. modprobe never reads `softdep=` from .modinfo itself (checked with kmod 30:
  without modules.softdep, `modprobe --show-depends ext4` drops crc32c); only when a tree has no
  modules.softdep at all do we take them from .modinfo, because the depmod run that writes the rescue
  image's indexes will turn them into a modules.softdep there.
- probe order (__kmod_module_get_probe_list): the dependencies of modules.dep in reverse line order,
  each preceded by its softdep `pre:` modules and followed by its `post:` modules, then the module.

Compressed modules (.ko.xz, .ko.gz) are read with the standard library; .ko.zst with the `zstd` tool
(Python 3.11 has no zstd module), one process for a whole batch of files, not one per module.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import lzma
import mmap
import os
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath

from rearbuild.collect.kernel import KernelImage, modules_tree
from rearbuild.errors import InternalError, UserError
from rearbuild.run import run

# ---------------------------------------------------------------------------------------------------
# Names and files


def normalize(name: str) -> str:
    """A module name as libkmod compares it: '-' becomes '_' except between '[' and ']' (globs)."""
    if "-" not in name:
        return name
    out = []
    in_brackets = False
    for char in name:
        if char == "[":
            in_brackets = True
        elif char == "]":
            in_brackets = False
        out.append("_" if char == "-" and not in_brackets else char)
    return "".join(out)


class Compression(Enum):
    """How a module file is compressed; the value is its file-name suffix (kmod's KMOD_EXTENSION list)."""

    NONE = ".ko"
    XZ = ".ko.xz"
    GZIP = ".ko.gz"
    ZSTD = ".ko.zst"

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> Compression:
        name = os.fspath(path)
        for kind in (cls.XZ, cls.GZIP, cls.ZSTD, cls.NONE):
            if name.endswith(kind.value):
                return kind
        raise UserError(
            f"{name} is not a kernel module file (.ko, .ko.xz, .ko.gz or .ko.zst)",
            hint="check modules.dep of that kernel, or run depmod for it",
        )

    def decompress(self, data: bytes) -> bytes:
        """The uncompressed module; zstd is decompressed in batches by _zstd_decompress instead."""
        if self is Compression.XZ:
            return lzma.decompress(data)
        if self is Compression.GZIP:
            return gzip.decompress(data)
        if self is Compression.NONE:
            return data
        raise InternalError("zstd modules are decompressed in batches by _zstd_decompress")


def module_name(path: str | os.PathLike[str]) -> str:
    """kernel/drivers/md/dm-crypt.ko.xz -> dm_crypt."""
    base = os.path.basename(os.fspath(path))
    return normalize(base[: -len(Compression.of(base).value)])


# ---------------------------------------------------------------------------------------------------
# The .modinfo section of a module (an ELF relocatable file)

# ELF identification (System V gABI, "ELF Identification"):
#   0  EI_MAG    4s  b"\x7fELF"
#   4  EI_CLASS  B   1 = ELFCLASS32, 2 = ELFCLASS64
#   5  EI_DATA   B   1 = ELFDATA2LSB (little endian), 2 = ELFDATA2MSB (big endian)
_ELF_IDENT = struct.Struct("4sBB")
_ELF_MAGIC = b"\x7fELF"
_ELFCLASS32, _ELFCLASS64 = 1, 2
_ELFDATA2LSB, _ELFDATA2MSB = 1, 2
# ELF header after e_ident (gABI "ELF Header"); 64-bit offsets (32-bit in parentheses):
#   16 e_type H, 18 e_machine H, 20 e_version I, 24 e_entry Q(I), 32(28) e_phoff Q(I),
#   40(32) e_shoff Q(I), 48(36) e_flags I, 52(40) e_ehsize H, 54(42) e_phentsize H, 56(44) e_phnum H,
#   58(46) e_shentsize H, 60(48) e_shnum H, 62(50) e_shstrndx H
_EHDR_FORMAT = {_ELFCLASS64: "16xHHIQQQIHHHHHH", _ELFCLASS32: "16xHHIIIIIHHHHHH"}
# Section header (gABI "Sections"); 64-bit offsets (32-bit in parentheses):
#   0 sh_name I, 4 sh_type I, 8 sh_flags Q(I), 16(12) sh_addr Q(I), 24(16) sh_offset Q(I),
#   32(20) sh_size Q(I), 40(24) sh_link I, 44(28) sh_info I, 48(32) sh_addralign Q(I), 56(36) sh_entsize Q(I)
_SHDR_FORMAT = {_ELFCLASS64: "IIQQQQIIQQ", _ELFCLASS32: "IIIIIIIIII"}
# gABI: e_shnum 0 means "the count is in sh_size of section 0"; e_shstrndx SHN_XINDEX means "in its sh_link".
_SHN_XINDEX = 0xFFFF
_MODINFO = b".modinfo"


@dataclass(frozen=True)
class Modinfo:
    """The key=value strings of a module's .modinfo section (a key may repeat: firmware, alias)."""

    entries: tuple[tuple[str, str], ...]

    def get(self, key: str) -> tuple[str, ...]:
        return tuple(value for k, value in self.entries if k == key)

    @classmethod
    def parse(cls, section: bytes) -> Modinfo:
        entries = []
        for raw in section.split(b"\0"):
            key, sep, value = raw.decode("utf-8", "replace").partition("=")
            if sep:
                entries.append((key, value))
        return cls(tuple(entries))


def _modinfo_section(image: bytes | mmap.mmap, where: str) -> bytes:
    def corrupt(what: str) -> UserError:
        return UserError(
            f"{where}: {what}", hint="the module file is damaged; reinstall the kernel package it belongs to"
        )

    if len(image) < 64:
        raise corrupt("too short for an ELF header")
    magic, elf_class, data = _ELF_IDENT.unpack_from(image, 0)
    if magic != _ELF_MAGIC or elf_class not in _EHDR_FORMAT or data not in (_ELFDATA2LSB, _ELFDATA2MSB):
        raise corrupt("not an ELF file")
    order = "<" if data == _ELFDATA2LSB else ">"
    ehdr = struct.Struct(order + _EHDR_FORMAT[elf_class])
    shdr = struct.Struct(order + _SHDR_FORMAT[elf_class])
    _, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx = ehdr.unpack_from(image, 0)
    if shoff == 0 or shentsize < shdr.size or shoff + shentsize > len(image):
        raise corrupt("no section headers")

    def section(index: int) -> tuple[int, int, int, int]:
        offset = shoff + index * shentsize
        if offset + shdr.size > len(image):
            raise corrupt(f"section header {index} lies beyond the end of the file")
        name, _, _, _, sh_offset, sh_size, sh_link, _, _, _ = shdr.unpack_from(image, offset)
        return name, sh_offset, sh_size, sh_link

    if shnum == 0:
        shnum = section(0)[2]
    if shstrndx == _SHN_XINDEX:
        shstrndx = section(0)[3]
    _, strtab_offset, strtab_size, _ = section(shstrndx)
    strtab = bytes(image[strtab_offset : strtab_offset + strtab_size])
    for index in range(shnum):
        name, offset, size, _ = section(index)
        end = strtab.find(b"\0", name)
        if strtab[name:end] == _MODINFO:
            if offset + size > len(image):
                raise corrupt(".modinfo lies beyond the end of the file")
            return bytes(image[offset : offset + size])
    return b""


def read_modinfo(path: Path, *, uncompressed: bytes | None = None) -> Modinfo:
    """The .modinfo of one module file (plain, .xz, .gz; .zst needs `uncompressed` from read_modinfos)."""
    where = str(path)
    kind = Compression.of(path)
    try:
        if uncompressed is not None:
            return Modinfo.parse(_modinfo_section(uncompressed, where))
        if kind is Compression.NONE:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise UserError(f"{where}: empty module file", hint="reinstall the kernel package")
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
                    return Modinfo.parse(_modinfo_section(image, where))
        if kind is Compression.ZSTD:
            return read_modinfos([path])[path]
        return Modinfo.parse(_modinfo_section(kind.decompress(path.read_bytes()), where))
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError) as exc:
        raise UserError(f"{where}: cannot decompress: {exc}", hint="reinstall the kernel package") from exc
    except OSError as exc:
        raise UserError(f"cannot read module {where}: {exc.strerror}") from exc


def _zstd_decompress(paths: Sequence[Path]) -> dict[Path, bytes]:
    """Decompress .ko.zst files with one `zstd` process per batch of distinct file names."""
    result: dict[Path, bytes] = {}
    pending = list(paths)
    while pending:
        batch: dict[str, Path] = {}
        rest = []
        for path in pending:
            if path.name in batch or len(batch) >= 1000:
                rest.append(path)
            else:
                batch[path.name] = path
        pending = rest
        with tempfile.TemporaryDirectory(prefix="rearbuild-zstd-") as out:
            run(
                ["zstd", "-d", "-q", "-f", "--output-dir-flat", out, *map(str, batch.values())],
                hint="install zstd (apt-get install zstd): the modules of this kernel are zstd-compressed",
            )
            for name, path in batch.items():
                result[path] = (Path(out) / name.removesuffix(".zst")).read_bytes()
    return result


def read_modinfos(paths: Iterable[Path]) -> dict[Path, Modinfo]:
    """The .modinfo of many modules; zstd ones are decompressed in batches, not one process each."""
    paths = list(paths)
    zstd = [p for p in paths if Compression.of(p) is Compression.ZSTD]
    unpacked = _zstd_decompress(zstd) if zstd else {}
    return {p: read_modinfo(p, uncompressed=unpacked.get(p)) for p in paths}


# ---------------------------------------------------------------------------------------------------
# The module indexes of one kernel


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


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
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


_GLOB_CHARS = frozenset("*?[")


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
        for number, line in _read_lines(dep_file):
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
            module_name(line.strip()) for _, line in _read_lines(moddir / "modules.builtin") if line.strip()
        )
        order = {module_name(line.strip()): n for n, line in _read_lines(moddir / "modules.order") if line.strip()}

        softdeps: list[SoftDep] = []
        config_aliases: list[tuple[str, str]] = []
        for path in _config_files(sysroot if config_root is None else config_root, moddir):
            for _, line in _read_lines(path):
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
        for number, line in _read_lines(moddir / "modules.alias"):
            words = line.split()
            if len(words) != 3 or words[0] != "alias":
                continue
            alias, target_name = normalize(words[1]), normalize(words[2])
            if _GLOB_CHARS.isdisjoint(alias):
                exact.setdefault(alias, []).append((number, target_name))
            else:
                globbed.append((number, alias, target_name))

        index = cls(
            version=version,
            directory=moddir,
            paths=paths,
            deps=deps,
            builtin=builtin,
            order=order,
            softdeps=tuple(softdeps),
            config_aliases=tuple(config_aliases),
            exact_aliases={k: tuple(v) for k, v in exact.items()},
            glob_aliases=tuple(globbed),
        )
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
        return ModuleIndex(
            version=self.version,
            directory=self.directory,
            paths=self.paths,
            deps=self.deps,
            builtin=self.builtin,
            order=self.order,
            softdeps=self.softdeps + tuple(extra),
            config_aliases=self.config_aliases,
            exact_aliases=self.exact_aliases,
            glob_aliases=self.glob_aliases,
            softdeps_from_modinfo=True,
        )

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
            raise _missing_error(index, [name], "MODULES_LOAD")
        for module in index.probe_list(name):
            if module in index.paths and not _matches_any(module, exclude):
                seen.setdefault(module, None)
    return tuple(seen)


# ---------------------------------------------------------------------------------------------------
# Selection: ReaR's MODULES, MODULES_LOAD and EXCLUDE_MODULES


class ModulesKeyword(Enum):
    """The special words of MODULES (ReaR default.conf)."""

    ALL = "all_modules"
    LOADED = "loaded_modules"
    NONE = "no_modules"

    @classmethod
    def find(cls, words: Sequence[str]) -> set[ModulesKeyword]:
        return {kind for kind in cls if kind.value in words}


class ModuleClass(Enum):
    """Classes of drivers the default MODULES=() takes; the value is (label, path globs in the tree).

    ReaR's rescue/GNU/Linux/230_storage_and_network_modules.sh takes the same directories; globs are
    matched against the module's path relative to lib/modules/KVER.
    """

    STORAGE = (
        "storage",
        (
            "kernel/drivers/block/*",
            "kernel/drivers/ata/*",
            "kernel/drivers/scsi/*",
            "kernel/drivers/md/*",
            "kernel/drivers/nvme/*",
            "kernel/drivers/mmc/*",
            "kernel/drivers/usb/storage/*",
            "kernel/drivers/firewire/*",
            "kernel/drivers/message/*",
            "kernel/drivers/ide/*",
            "kernel/drivers/cdrom/*",
            "kernel/drivers/s390/block/*",
            "kernel/drivers/s390/scsi/*",
        ),
    )
    NETWORK = ("network", ("kernel/drivers/net/*", "kernel/net/*"))
    FILESYSTEM = ("file system", ("kernel/fs/*",))
    CRYPTO = ("crypto", ("kernel/crypto/*", "kernel/drivers/crypto/*", "kernel/arch/*/crypto/*"))
    USB = ("USB", ("kernel/drivers/usb/*", "kernel/drivers/hid/*"))
    INPUT = ("input", ("kernel/drivers/input/*", "kernel/drivers/hid/*"))
    VIRTUALIZATION = (
        "virtualization",
        ("kernel/drivers/virtio/*", "kernel/drivers/xen/*", "kernel/drivers/hv/*", "kernel/drivers/*/hyperv/*"),
    )
    # Out-of-tree drivers (DKMS, vendor packages: rear#2677) live outside kernel/.
    EXTRA = ("out-of-tree", ("extra/*", "updates/*", "weak-updates/*"))

    def __init__(self, label: str, globs: tuple[str, ...]) -> None:
        self.label = label
        self.globs = globs

    def matches(self, relpath: str) -> bool:
        return any(fnmatch.fnmatchcase(relpath, pattern) for pattern in self.globs)


# Parts of the class directories no recovery uses, left out of the class-based default (a dependency of a chosen
# driver still comes along; MODULES can name any of them): packet filtering, traffic shaping, the Bluetooth stack,
# USB device-side (gadget) drivers, and radio links -- Wi-Fi (the rescue system carries no WPA supplicant, so a
# wireless NIC cannot reach a backup server anyway), CAN, WWAN, 802.15.4, amateur radio, NFC. Together about
# 50 MB of modules: a smaller initrd that boots faster, while every wired network, storage, file-system, crypto,
# USB host and input driver stays.
NOT_FOR_RECOVERY = (
    "kernel/net/netfilter/*", "kernel/net/ipv4/netfilter/*", "kernel/net/ipv6/netfilter/*",
    "kernel/net/bridge/netfilter/*", "kernel/net/sched/*", "kernel/net/bluetooth/*", "kernel/drivers/bluetooth/*",
    "kernel/drivers/usb/gadget/*",
    "kernel/drivers/net/wireless/*", "kernel/net/wireless/*", "kernel/net/mac80211/*",
    "kernel/drivers/net/can/*", "kernel/net/can/*", "kernel/drivers/net/wwan/*",
    "kernel/drivers/net/ieee802154/*", "kernel/net/ieee802154/*", "kernel/net/mac802154/*",
    "kernel/drivers/net/hamradio/*", "kernel/net/ax25/*", "kernel/net/netrom/*", "kernel/net/rose/*",
    "kernel/net/nfc/*", "kernel/drivers/nfc/*",
    # file *servers* (the NFS and SMB server of the kernel), not file systems; graphics drivers a hypervisor's
    # display class would pull in (the console works on the firmware's framebuffer and the serial port)
    "kernel/fs/nfsd/*", "kernel/fs/smb/server/*", "kernel/fs/ksmbd/*", "kernel/drivers/gpu/*",
)  # fmt: skip


# Modules the default selection always takes (globs over module names), ReaR's fixed list of
# build/GNU/Linux/400_copy_modules.sh plus what reading the rescue medium and the layout needs.
FIXED_MODULES = (
    "nvram", "vfat", "nls_*", "af_packet", "unix", "nfs", "nfsv3", "nfsv4", "lockd", "sunrpc", "cifs",
    "usbcore", "usb_storage", "usbhid", "uhci_hcd", "ehci_hcd", "ehci_pci", "xhci_hcd", "xhci_pci",
    "ohci_hcd", "sr_mod", "cdrom", "sd_mod", "sg", "iso9660", "isofs", "udf", "squashfs", "overlay", "loop",
    "zlib_inflate", "zlib_deflate", "libcrc32c", "crc32c*", "dm_*", "md_mod", "raid*", "linear",
    "efivarfs", "vmw_pvscsi", "vmxnet3",
)  # fmt: skip


class ReasonKind(Enum):
    """Why a module is in the image; the value is the phrase, completed by the detail."""

    ALL = "all_modules"
    CLASS = "{} driver"
    FIXED = "always included ({})"
    EXPLICIT = "named in MODULES"
    LOAD = "named in MODULES_LOAD"
    LOADED = "loaded on the host"
    DEPENDENCY = "dependency of {}"
    SOFTDEP_PRE = "softdep (pre) of {}"
    SOFTDEP_POST = "softdep (post) of {}"

    def describe(self, detail: str) -> str:
        template: str = self.value
        return template.format(detail)


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    detail: str = ""

    def __str__(self) -> str:
        return self.kind.describe(self.detail)


@dataclass(frozen=True)
class Selection:
    """Chosen modules (name -> first reason, in load-friendly order), and what could not be taken."""

    modules: Mapping[str, Reason]
    missing_loaded: tuple[str, ...]  # loaded on the host, but no such module for this kernel
    excluded: tuple[str, ...]  # EXCLUDE_MODULES that would otherwise have been taken


def loaded_modules(sysroot: Path) -> tuple[str, ...]:
    """Names in <sysroot>/proc/modules (none when it does not exist, e.g. a kernel without modules)."""
    return tuple(normalize(line.split()[0]) for _, line in _read_lines(sysroot / "proc/modules") if line.split())


def _matches_any(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, normalize(p)) for p in patterns)


def _missing_error(index: ModuleIndex, names: Sequence[str], variable: str) -> UserError:
    listing = ", ".join(names)
    return UserError(
        f"{variable}: no module {listing} for kernel {index.version} "
        f"(not in {index.directory / 'modules.dep'}, not built in, no such alias)",
        hint=f"check the name with `modinfo -k {index.version} NAME`, or remove it from {variable}",
    )


def select_modules(
    index: ModuleIndex,
    modules: Sequence[str],
    *,
    modules_load: Sequence[str] = (),
    exclude: Sequence[str] = (),
    loaded: Sequence[str] = (),
) -> Selection:
    """The modules for the image, closed over modules.dep and softdeps, by ReaR's MODULES semantics.

    modules: ("all_modules",) every module; ("no_modules",) none; () the default: loaded modules,
    the ModuleClass drivers and FIXED_MODULES; otherwise the names (and "loaded_modules") given,
    plus the loaded modules as ReaR does. modules_load (MODULES_LOAD) are always taken;
    exclude (EXCLUDE_MODULES, names or globs) are never taken, not even as a dependency.
    """
    keywords = ModulesKeyword.find(modules)
    names = [m for m in modules if m not in {k.value for k in ModulesKeyword}]
    seeds: list[tuple[str, Reason]] = []
    if ModulesKeyword.NONE in keywords:
        if modules_load:
            raise UserError(
                f"MODULES=no_modules, but MODULES_LOAD names {', '.join(modules_load)}",
                hint="drop no_modules from MODULES, or empty MODULES_LOAD",
            )
        return Selection({}, (), ())

    missing = [n for n in names if not index.lookup(n)]
    if missing:
        raise _missing_error(index, missing, "MODULES")
    missing = [n for n in modules_load if not index.lookup(n)]
    if missing:
        raise _missing_error(index, missing, "MODULES_LOAD")

    ordered = sorted(index.paths, key=index.sort_key)
    if ModulesKeyword.ALL in keywords:
        seeds += [(m, Reason(ReasonKind.ALL)) for m in ordered]
    seeds += [(m, Reason(ReasonKind.LOAD)) for n in modules_load for m in index.lookup(n)]
    seeds += [(m, Reason(ReasonKind.EXPLICIT)) for n in names for m in index.lookup(n)]
    missing_loaded = tuple(n for n in loaded if not index.lookup(n))
    seeds += [(m, Reason(ReasonKind.LOADED)) for n in loaded for m in index.lookup(n)]
    if not modules:
        for module in ordered:
            path = index.paths[module]
            if any(fnmatch.fnmatchcase(path, pattern) for pattern in NOT_FOR_RECOVERY):
                continue
            for cls in ModuleClass:
                if cls.matches(path):
                    seeds.append((module, Reason(ReasonKind.CLASS, cls.label)))
                    break
        for pattern in FIXED_MODULES:
            if _GLOB_CHARS.isdisjoint(pattern):  # a name or an alias (iso9660 is isofs); may not exist
                seeds += [(m, Reason(ReasonKind.FIXED, pattern)) for m in index.lookup(pattern)]
            else:
                seeds += [(m, Reason(ReasonKind.FIXED, pattern)) for m in ordered if fnmatch.fnmatchcase(m, pattern)]

    chosen: dict[str, Reason] = {}
    excluded: dict[str, None] = {}
    queue = list(seeds)
    position = 0
    while position < len(queue):
        module, reason = queue[position]
        position += 1
        if module in chosen or module not in index.paths:
            continue  # already taken, or builtin
        if _matches_any(module, exclude):
            excluded.setdefault(module, None)
            continue
        chosen[module] = reason
        queue += [(dep, Reason(ReasonKind.DEPENDENCY, module)) for dep in index.deps.get(module, ())]
        pre, post = index.softdeps_of(module)
        queue += [(dep, Reason(ReasonKind.SOFTDEP_PRE, module)) for dep in pre]
        queue += [(dep, Reason(ReasonKind.SOFTDEP_POST, module)) for dep in post]
    return Selection(chosen, missing_loaded, tuple(excluded))


# ---------------------------------------------------------------------------------------------------
# Firmware


class FirmwareMode(Enum):
    """ReaR's FIRMWARE_FILES. rearbuild's empty default differs on purpose: ReaR copies all of
    /lib/firmware (hundreds of MB, the main cause of oversized initrds: rear#2869, #3324); we copy
    the `firmware=` files of the chosen modules and list the ones missing on the host."""

    MODULES = "the firmware of the chosen modules"
    ALL = "all of lib/firmware"
    NONE = "no firmware"
    PATTERNS = "files matching the FIRMWARE_FILES patterns"

    @classmethod
    def of(cls, firmware_files: Sequence[str]) -> FirmwareMode:
        if not firmware_files:
            return cls.MODULES
        if len(firmware_files) == 1:
            word = firmware_files[0].strip().lower()
            if word in ("yes", "y", "true", "1", "on"):
                return cls.ALL
            if word in ("no", "n", "false", "0", "off"):
                return cls.NONE
        return cls.PATTERNS


@dataclass(frozen=True)
class FirmwareFile:
    """A file (or a symlink, kept as one: `link` is its text) of lib/firmware for the image."""

    source: Path
    target: PurePosixPath
    needed_by: tuple[str, ...]  # modules whose firmware= names it; empty for FIRMWARE_FILES=yes/globs
    link: str | None = None


@dataclass(frozen=True)
class MissingFirmware:
    name: str
    needed_by: tuple[str, ...]


# Where the kernel's firmware loader looks (drivers/base/firmware_loader/main.c, fw_path[]), and the
# suffixes it accepts with CONFIG_FW_LOADER_COMPRESS_ZSTD / _XZ (tried after the plain name).
_FIRMWARE_DIRS = ("lib/firmware/updates/{v}", "lib/firmware/updates", "lib/firmware/{v}", "lib/firmware")
_FIRMWARE_SUFFIXES = ("", ".zst", ".xz")
_MAX_LINKS = 40  # as the kernel's path walk (MAXSYMLINKS)


def module_firmware(index: ModuleIndex, modules: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """firmware name -> modules that name it in `firmware=` of their .modinfo."""
    names = [m for m in modules if m in index.paths]
    infos = read_modinfos(index.file(m) for m in names)
    wanted: dict[str, list[str]] = {}
    for module in names:
        for firmware in infos[index.file(module)].get("firmware"):
            wanted.setdefault(firmware, []).append(module)
    return {k: tuple(v) for k, v in sorted(wanted.items())}


def _firmware_entries(sysroot: Path, relpath: str, needed_by: tuple[str, ...]) -> list[FirmwareFile]:
    """The file at sysroot/relpath, and if it is a symlink the link and (recursively) its target."""
    entries = []
    for _ in range(_MAX_LINKS):
        source = sysroot / relpath
        if source.is_symlink():
            text = os.readlink(source)
            entries.append(FirmwareFile(source, PurePosixPath(relpath), needed_by, link=text))
            if text.startswith("/"):
                relpath = os.path.normpath(text.lstrip("/"))
            else:
                relpath = os.path.normpath(os.path.join(os.path.dirname(relpath), text))
            continue
        if source.is_file():
            entries.append(FirmwareFile(source, PurePosixPath(relpath), needed_by))
        return entries
    return entries


def collect_firmware(
    sysroot: Path, version: str, wanted: Mapping[str, tuple[str, ...]], firmware_files: Sequence[str] = ()
) -> tuple[tuple[FirmwareFile, ...], tuple[MissingFirmware, ...]]:
    """Firmware files for the image and the `firmware=` names no file exists for.

    wanted: firmware name -> modules (module_firmware). firmware_files: FIRMWARE_FILES (FirmwareMode).
    """
    mode = FirmwareMode.of(firmware_files)
    dirs = [d.format(v=version) for d in _FIRMWARE_DIRS]
    files: dict[PurePosixPath, FirmwareFile] = {}
    missing = []
    for name, modules in wanted.items():
        found = []
        for directory in dirs:
            for suffix in _FIRMWARE_SUFFIXES:
                if _GLOB_CHARS.isdisjoint(name):
                    candidates = [f"{directory}/{name}{suffix}"]
                else:  # some drivers name a glob (e.g. firmware=qcom/*.mbn)
                    candidates = sorted(
                        str(Path(p).relative_to(sysroot)) for p in (sysroot / directory).glob(name + suffix)
                    )
                for relpath in candidates:
                    if (sysroot / relpath).is_symlink() or (sysroot / relpath).is_file():
                        found += _firmware_entries(sysroot, relpath, modules)
        if not found:
            missing.append(MissingFirmware(name, modules))
        elif mode is FirmwareMode.MODULES:
            for entry in found:
                files.setdefault(entry.target, entry)
    if mode in (FirmwareMode.ALL, FirmwareMode.PATTERNS):
        base = sysroot / "lib/firmware"
        for root, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for filename in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(root, d))]):
                full = Path(root) / filename
                relpath = str(full.relative_to(sysroot))
                if mode is FirmwareMode.PATTERNS and not any(
                    fnmatch.fnmatch("/" + relpath.lower(), p.lower()) for p in firmware_files
                ):  # ReaR: find /lib*/firmware -ipath PATTERN
                    continue
                for entry in _firmware_entries(sysroot, relpath, ()):
                    files.setdefault(entry.target, entry)
    return tuple(files[k] for k in sorted(files)), tuple(missing)


# ---------------------------------------------------------------------------------------------------
# Module indexes of the image (depmod over a staging tree)


@dataclass(frozen=True)
class ModuleFile:
    name: str
    source: Path  # the host file
    target: PurePosixPath  # path in the image, relative to its root
    reason: Reason


@dataclass(frozen=True)
class IndexFile:
    source: Path  # generated in the staging directory
    target: PurePosixPath


# Index files copied from the host tree because depmod reads rather than writes them.
_COPIED_INDEXES = ("modules.builtin", "modules.builtin.modinfo")


def _index_key(index: ModuleIndex, names: Sequence[str]) -> str:
    digest = hashlib.sha256(index.version.encode())
    for name in names:
        st = index.file(name).stat()
        digest.update(f"{name}:{index.paths[name]}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for filename in _COPIED_INDEXES:
        source = index.directory / filename
        if source.is_file():
            digest.update(f"{filename}:{source.stat().st_mtime_ns}".encode())
    return digest.hexdigest()


def write_module_indexes(index: ModuleIndex, modules: Iterable[str], staging: Path) -> tuple[IndexFile, ...]:
    """Generate the image's modules.dep(.bin), modules.alias(.bin), ... with depmod over a staging tree.

    staging/lib/modules/KVER gets a symlink per chosen module (to the host file: depmod follows them,
    no root and no copy needed), the host's modules.builtin(.modinfo) and a modules.order cut down to
    the chosen modules; `depmod -b staging KVER` then writes the indexes. Only the returned index files
    belong in the image; the module symlinks do not (copy ModuleFile.source instead). Afterwards
    `modprobe -d staging -S KVER NAME` resolves inside the staging tree, as modprobe in the image will.
    """
    names = sorted(set(modules) & set(index.paths), key=index.sort_key)
    root = staging / "lib/modules" / index.version
    # depmod costs most of a warm rebuild: reuse the indexes when the same modules of the same host files
    # were indexed before (the stamp records what they were made from).
    stamp = root / ".rearbuild-indexed"
    key = _index_key(index, names)
    if not (stamp.is_file() and stamp.read_text() == key):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        for name in names:
            link = root / index.paths[name]
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(index.file(name))
        for filename in _COPIED_INDEXES:
            source = index.directory / filename
            if source.is_file():
                (root / filename).write_bytes(source.read_bytes())
        (root / "modules.order").write_text("".join(f"{index.paths[n]}\n" for n in names))
        with tempfile.TemporaryDirectory(prefix="rearbuild-depmod-") as empty_config:
            # -C: the host's depmod.d (search order, overrides) is about its full tree, not ours.
            run(
                ["depmod", "-C", empty_config, "-b", str(staging), index.version],
                hint="install kmod (apt-get install kmod), which provides depmod",
            )
        stamp.write_text(key)
    return tuple(
        IndexFile(path, PurePosixPath("lib/modules", index.version, path.name))
        for path in sorted(root.glob("modules.*"))
        if path.is_file() and not path.is_symlink()
    )


# ---------------------------------------------------------------------------------------------------
# Everything together


@dataclass(frozen=True)
class KernelModules:
    """Kernel, modules, firmware and module indexes of a rescue image (all targets relative to its root)."""

    kernel: KernelImage
    modules: tuple[ModuleFile, ...]
    firmware: tuple[FirmwareFile, ...]
    missing_firmware: tuple[MissingFirmware, ...]
    index_files: tuple[IndexFile, ...]
    load_order: tuple[str, ...]  # insmod order for MODULES_LOAD at rescue boot
    missing_loaded: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def module_bytes(self) -> int:
        return sum(m.source.stat().st_size for m in self.modules)


def collect_kernel_modules(
    sysroot: Path,
    kernel: KernelImage,
    staging: Path,
    *,
    modules: Sequence[str] = (),
    modules_load: Sequence[str] = (),
    exclude: Sequence[str] = ("scsi_debug",),
    firmware_files: Sequence[str] = (),
) -> KernelModules:
    """Choose modules (MODULES, MODULES_LOAD, EXCLUDE_MODULES), their firmware (FIRMWARE_FILES), and
    generate the module indexes under `staging` (see write_module_indexes)."""
    index = ModuleIndex.load(sysroot, kernel.version)
    keywords = ModulesKeyword.find(modules)
    # all_modules has them anyway, no_modules wants none
    skip_loaded = bool(keywords & {ModulesKeyword.ALL, ModulesKeyword.NONE})
    loaded = () if skip_loaded else loaded_modules(sysroot)
    selection = select_modules(index, modules, modules_load=modules_load, exclude=exclude, loaded=loaded)
    chosen = sorted(selection.modules, key=lambda m: index.paths[m])
    module_files = tuple(
        ModuleFile(
            name,
            index.file(name),
            PurePosixPath("lib/modules", kernel.version, index.paths[name]),
            selection.modules[name],
        )
        for name in chosen
    )
    if FirmwareMode.of(firmware_files) is FirmwareMode.NONE:
        firmware: tuple[FirmwareFile, ...] = ()
        missing: tuple[MissingFirmware, ...] = ()
    else:
        wanted = module_firmware(index, chosen)
        firmware, missing = collect_firmware(sysroot, kernel.version, wanted, firmware_files)
    index_files = write_module_indexes(index, chosen, staging) if chosen else ()
    # depmod orders a module's dependencies by a topological sort of the whole tree, so the image's
    # modules.dep may list them in another (equally valid) order than the host's: the order modprobe
    # will use at rescue boot is the one of the generated indexes.
    image_index = ModuleIndex.load(staging, kernel.version, config_root=sysroot) if chosen else index
    return KernelModules(
        kernel=kernel,
        modules=module_files,
        firmware=firmware,
        missing_firmware=missing,
        index_files=index_files,
        load_order=load_order(image_index, modules_load, exclude=exclude),
        missing_loaded=selection.missing_loaded,
        excluded=selection.excluded,
    )
