"""rearbuild's module resolution against the real modprobe, on the installed Debian kernel.

`modprobe -S KVER --show-depends NAME` is what the rescue system will do; our closure and order must
be the same, and modprobe must resolve every copied module from the indexes we generate.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

import pytest

from rearbuild.collect.kernel import find_kernel, installed_versions, kernel_version
from rearbuild.collect.kmod.depmod import write_module_indexes
from rearbuild.collect.kmod.image import collect_kernel_modules
from rearbuild.collect.kmod.index import ModuleIndex, load_order
from rearbuild.collect.kmod.modinfo import read_modinfo, read_modinfos
from rearbuild.collect.kmod.selection import select_modules
from rearbuild.run import run

pytestmark = pytest.mark.slow

ROOT = Path("/")
STORAGE = ["virtio_blk", "nvme", "ahci", "sd_mod", "dm_crypt", "raid1", "xfs", "ext4", "btrfs"]
NETWORK = ["virtio_net", "e1000e", "tg3", "mlx5_core", "ixgbe"]
FILESYSTEMS = ["vfat", "iso9660", "nfs", "cifs"]
CRYPTO = ["aesni_intel", "xts", "sha256_ssse3", "essiv", "crypto-crc32c", "cbc"]
SAMPLE = STORAGE + NETWORK + FILESYSTEMS + CRYPTO


@pytest.fixture(scope="module")
def kver() -> str:
    versions = [v for v in installed_versions(ROOT) if (ROOT / "lib/modules" / v / "modules.dep").is_file()]
    if not versions:
        pytest.skip("no /lib/modules/*/modules.dep on this machine (apt-get install linux-image-amd64)")
    if shutil.which("modprobe") is None:
        pytest.skip("modprobe is not installed (apt-get install kmod)")
    return versions[-1]


@pytest.fixture(scope="module")
def index(kver: str) -> ModuleIndex:
    return ModuleIndex.load(ROOT, kver)


def modprobe_show_depends(kver: str, name: str, *, base: Path | None = None) -> list[str]:
    argv = ["modprobe", "-S", kver, "--show-depends", name]
    if base is not None:
        argv[1:1] = ["-d", str(base)]
    out = run(argv).out
    return [line.split()[1] for line in out.splitlines() if line.startswith("insmod ")]


def ours(index: ModuleIndex, name: str) -> list[str]:
    return [str(index.file(m)) for m in index.probe_list(name) if m in index.paths]


@pytest.mark.parametrize("name", SAMPLE)
def test_closure_and_order_equal_modprobe(kver: str, index: ModuleIndex, name: str) -> None:
    theirs = modprobe_show_depends(kver, name)
    assert ours(index, name) == theirs  # the raw list, repeated entries included
    first_seen = list(dict.fromkeys(theirs))
    assert [str(index.file(m)) for m in load_order(index, [name])] == first_seen
    assert {str(index.file(m)) for m in select_modules(index, [name]).modules} == set(theirs)


def test_builtin_module_needs_no_insmod(kver: str, index: ModuleIndex) -> None:
    out = run(["modprobe", "-S", kver, "--show-depends", "cbc"]).out
    if not out.startswith("builtin "):
        pytest.skip(f"cbc is a loadable module in {kver}")
    assert index.is_builtin("cbc") and load_order(index, ["cbc"]) == ()
    assert dict(select_modules(index, ["cbc"]).modules) == {}


def test_every_module_of_the_kernel_equals_modprobe(kver: str, index: ModuleIndex) -> None:
    mismatches = [name for name in sorted(index.paths) if ours(index, name) != modprobe_show_depends(kver, name)]
    assert mismatches == []


def test_generated_indexes_resolve_every_module_inside_the_staging_tree(
    kver: str, index: ModuleIndex, tmp_path: Path
) -> None:
    selection = select_modules(index, [], exclude=["scsi_debug"])
    written = write_module_indexes(index, selection.modules, tmp_path)
    names = {f.target.name for f in written}
    assert {"modules.dep", "modules.dep.bin", "modules.alias.bin", "modules.softdep", "modules.builtin.bin"} <= names
    assert all(str(f.target).startswith(f"lib/modules/{kver}/") for f in written)
    staged = tmp_path / "lib/modules" / kver
    image = ModuleIndex.load(tmp_path, kver, config_root=ROOT)
    # every chosen module is resolvable by modprobe over the generated indexes, with the same modules
    # as on the host; the order is the one our index of the image predicts (depmod's topological sort
    # of a smaller tree may list dependencies in another valid order than the host's modules.dep)
    for name in [*sorted(selection.modules)[::7], "virtio_blk", "ext4", "btrfs", "virtio_net", "isofs"]:
        resolved = modprobe_show_depends(kver, name, base=tmp_path)
        assert resolved, name
        assert all(path.startswith(str(staged) + "/") for path in resolved), name
        assert {p.removeprefix(str(staged)) for p in resolved} == {
            p.removeprefix(str(index.directory)) for p in modprobe_show_depends(kver, name)
        }
        assert resolved == ours(image, name)
    # a module we did not take is not there
    left_out = next(m for m in sorted(index.paths) if m not in selection.modules)
    assert run(["modprobe", "-d", str(tmp_path), "-S", kver, "--show-depends", left_out], check=False).returncode


def test_zstd_compressed_module_reads_like_the_plain_one(index: ModuleIndex, tmp_path: Path) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("zstd is not installed (apt-get install zstd)")
    plain = [index.file(m) for m in ("ext4", "e1000e", "tg3")]
    packed = []
    for source in plain:
        target = tmp_path / source.parent.name / (source.name + ".zst")
        target.parent.mkdir(exist_ok=True)
        run(["zstd", "-q", "-o", str(target), str(source)])
        packed.append(target)
    infos = read_modinfos(packed)  # one zstd process for the batch
    for source, target in zip(plain, packed, strict=True):
        assert infos[target] == read_modinfo(source)
        assert infos[target].get("name")
    assert infos[packed[1]].get("firmware") == read_modinfo(plain[1]).get("firmware")


def test_collect_kernel_modules_for_the_installed_kernel(kver: str, tmp_path: Path) -> None:
    kernel = find_kernel(ROOT, kernel_version(ROOT, kver))
    result = collect_kernel_modules(ROOT, kernel, tmp_path, modules_load=["virtio_blk", "ext4", "virtio_net"])
    by_name = {m.name: m for m in result.modules}
    assert "scsi_debug" not in by_name and result.excluded == ("scsi_debug",)  # EXCLUDE_MODULES default
    assert str(by_name["virtio_blk"].reason) == "named in MODULES_LOAD"
    assert str(by_name["failover"].reason) == "network driver"
    assert by_name["ext4"].target == PurePosixPath("lib/modules", kver, "kernel/fs/ext4/ext4.ko")
    assert "snd_hda_intel" not in by_name  # sound is in no class of the default selection
    # the rescue system's modprobe, over the generated indexes, loads what load_order says
    expected: list[str] = []
    for name in ["virtio_blk", "ext4", "virtio_net"]:
        expected += [p for p in modprobe_show_depends(kver, name, base=tmp_path) if p not in expected]
    staged = tmp_path / "lib/modules" / kver
    assert [str(staged / by_name[m].target.relative_to(f"lib/modules/{kver}")) for m in result.load_order] == expected
    assert all(f.source.is_file() for f in result.index_files)
