"""The initrd writer against real tools: GNU cpio, the real decompressors, and a QEMU boot of the kernel."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import io
import logging
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from rearbuild.backup.progress import Progress
from rearbuild.build.compress import Compression
from rearbuild.build.cpio import CpioArchive, Entry, Kind
from rearbuild.build.initrd import BudgetAction, Segment, build_initrd, check_size_budget, tree_entries
from rearbuild.errors import UserError
from rearbuild.run import run

EPOCH = 1_700_000_000
MODULES = sorted(glob.glob("/usr/lib/modules/*/kernel/fs"))

needs_cpio = pytest.mark.skipif(shutil.which("cpio") is None, reason="apt-get install cpio")


def sample_tree(tmp_path: Path) -> list[Entry]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(4096) * 800 + b"end")  # more than one 1 MiB chunk, compressible
    (src / "exe").write_bytes(b"#!/bin/sh\necho hi\n")
    os.link(src / "exe", src / "exe-link")
    return [
        Entry.file("usr/lib/big", src / "big"),
        Entry.file("usr/bin/exe", src / "exe", 0o4755),
        Entry.file("usr/sbin/exe-link", src / "exe-link", 0o4755),
        Entry.from_bytes("etc/fstab", b"# empty\n", 0o600),
        Entry.symlink("bin", "usr/bin"),
        Entry.symlink("etc/mtab", "/proc/self/mounts"),
        Entry.device("dev/console", Kind.CHAR_DEVICE, 5, 1),
        Entry.device("dev/loop0", Kind.BLOCK_DEVICE, 7, 0, 0o660),
        Entry.fifo("run/initctl"),
        Entry.directory("tmp", 0o1777),
    ]


def write_plain(entries: list[Entry], path: Path) -> bytes:
    with path.open("wb") as f:
        CpioArchive.plan(entries, EPOCH).write(f)
    return path.read_bytes()


@needs_cpio
@pytest.mark.skipif(os.geteuid() != 0, reason="extracting device nodes needs root")
def test_gnu_cpio_extracts_what_was_written(tmp_path: Path) -> None:
    entries = sample_tree(tmp_path)
    archive = tmp_path / "a.cpio"
    write_plain(entries, archive)
    dest = tmp_path / "dest"
    dest.mkdir()
    with archive.open("rb") as f:
        run(["cpio", "-idmv", "--no-absolute-filenames", "--quiet"], stdin=f, cwd=dest)

    def lst(p: str) -> os.stat_result:
        return (dest / p).lstat()

    assert (dest / "usr/lib/big").read_bytes() == (tmp_path / "src/big").read_bytes()
    assert stat.S_IMODE(lst("usr/bin/exe").st_mode) == 0o4755
    assert lst("usr/bin/exe").st_ino == lst("usr/sbin/exe-link").st_ino
    assert lst("usr/bin/exe").st_nlink == 2
    assert (dest / "usr/sbin/exe-link").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(lst("etc/fstab").st_mode) == 0o600
    assert os.readlink(dest / "bin") == "usr/bin" and os.readlink(dest / "etc/mtab") == "/proc/self/mounts"
    console, loop = lst("dev/console"), lst("dev/loop0")
    assert stat.S_ISCHR(console.st_mode) and os.major(console.st_rdev) == 5 and os.minor(console.st_rdev) == 1
    assert stat.S_ISBLK(loop.st_mode) and (os.major(loop.st_rdev), os.minor(loop.st_rdev)) == (7, 0)
    assert stat.S_ISFIFO(lst("run/initctl").st_mode)
    assert stat.S_IMODE(lst("tmp").st_mode) == 0o1777
    assert lst("usr/lib/big").st_mtime == EPOCH and lst("usr/lib/big").st_uid == 0


@needs_cpio
def test_cpio_lists_the_paths_in_order(tmp_path: Path) -> None:
    archive = tmp_path / "a.cpio"
    write_plain(sample_tree(tmp_path), archive)
    with archive.open("rb") as f:
        listed = run(["cpio", "-t", "--quiet"], stdin=f).out.splitlines()
    assert listed == [
        "bin",
        "dev",
        "dev/console",
        "dev/loop0",
        "etc",
        "etc/fstab",
        "etc/mtab",
        "run",
        "run/initctl",
        "tmp",
        "usr",
        "usr/bin",
        "usr/bin/exe",
        "usr/lib",
        "usr/lib/big",
        "usr/sbin",
        "usr/sbin/exe-link",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("compression", [c for c in Compression if c is not Compression.NONE])
def test_each_compression_round_trips_and_is_deterministic(tmp_path: Path, compression: Compression) -> None:
    if not compression.available():
        pytest.skip(f"apt-get install {compression.package}")
    entries = sample_tree(tmp_path)
    plain = write_plain(entries, tmp_path / "plain.cpio")
    archive = CpioArchive.plan(entries, EPOCH)
    outputs = []
    for n in range(2):
        packed = tmp_path / f"packed{n}{compression.suffix}"
        with packed.open("wb") as f:
            assert compression.compress_from(archive.write, f) == len(plain)
        compression.verify(packed)
        outputs.append(packed.read_bytes())
        with packed.open("rb") as f:
            assert run(compression.decompress_argv(), stdin=f).stdout == plain
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) < len(plain)


def test_rear_compression_values_are_understood() -> None:
    assert Compression.parse("") is Compression.GZIP
    assert Compression.parse("lzma") is Compression.XZ
    assert Compression.parse("fast").argv()[-2:] == ("-1", "-c")
    assert Compression.parse("best").argv()[-2:] == ("-9", "-c")
    assert "--check=crc32" in Compression.XZ.argv()
    assert "-l" in Compression.LZ4.argv()
    with pytest.raises(UserError, match="bzip2"):
        Compression.parse("bzip2")


def test_a_producer_error_is_raised_after_the_compressor_ends(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.write_bytes(b"x" * 10)
    archive = CpioArchive.plan([Entry.file("a", gone)], EPOCH)
    gone.unlink()
    with (tmp_path / "out.gz").open("wb") as f, pytest.raises(UserError, match="vanished"):
        Compression.GZIP.compress_from(archive.write, f)


BUILD_SCRIPT = """
import os, sys, time
from pathlib import Path
os.umask(int(sys.argv[1], 8)); time.tzset()
from rearbuild.build.compress import Compression
from rearbuild.build.initrd import Segment, build_initrd, tree_entries
src = Path(sys.argv[2])
segments = [Segment("base", tuple(tree_entries(src / "base")), Compression.ZSTD),
            Segment("extra", tuple(tree_entries(src / "extra", "opt")), Compression.GZIP)]
build_initrd(segments, Path(sys.argv[3]), cache_dir=Path(sys.argv[4]), epoch=1700000000)
"""


@pytest.mark.slow
def test_builds_under_different_umask_and_tz_are_identical(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for part in ("base/etc", "extra/share"):
        (src / part).mkdir(parents=True)
    (src / "base/etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (src / "extra/share/data").write_bytes(os.urandom(100_000))
    results = []
    for n, (umask, tz) in enumerate([("022", "UTC"), ("077", "Asia/Tokyo")]):
        out = tmp_path / f"initrd{n}"
        env = {**os.environ, "TZ": tz, "PYTHONPATH": str(Path(__file__).parents[2])}
        run([sys.executable, "-c", BUILD_SCRIPT, umask, src, out, tmp_path / f"cache{n}"], env=env)
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        results.append(out.read_bytes())
    assert results[0] == results[1]


@pytest.mark.slow
def test_cache_hit_reopens_no_file(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"manifest file\n" * 1000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    entries = (Entry.file("usr/share/f", src, sha256=digest, size=src.stat().st_size),)
    segments = [Segment("base", entries, Compression.ZSTD)]
    first = build_initrd(segments, tmp_path / "one", cache_dir=tmp_path / "cache", epoch=EPOCH)
    assert not first.segments[0].cached
    src.unlink()
    second = build_initrd(segments, tmp_path / "two", cache_dir=tmp_path / "cache", epoch=EPOCH)
    assert second.segments[0].cached
    assert (tmp_path / "one").read_bytes() == (tmp_path / "two").read_bytes()
    assert second.segments == (dataclasses.replace(first.segments[0], cached=True),)
    # A different epoch is a different segment: now the missing file is reported.
    with pytest.raises(UserError, match=str(src)):
        build_initrd(segments, tmp_path / "three", cache_dir=tmp_path / "cache", epoch=EPOCH + 1)


@pytest.mark.slow
@pytest.mark.skipif(not MODULES, reason="needs a kernel module tree")
def test_warm_rebuild_of_a_module_tree_is_cached_and_budget_names_segments(tmp_path: Path) -> None:
    # How fast a warm rebuild is: bench_mkrescue.py prints rearbuild's cold and warm mkrescue wall times.
    modules = Path(MODULES[-1])
    segments = [
        Segment("base", (Entry.from_bytes("init", b"#!/bin/sh\n", 0o755),), Compression.ZSTD),
        Segment("modules", tuple(tree_entries(modules, "usr/lib/modules/fs")), Compression.ZSTD),
    ]
    cold = build_initrd(segments, tmp_path / "initrd", cache_dir=tmp_path / "cache", epoch=EPOCH)
    assert cold.segments[1].uncompressed > 10 << 20
    segments = [
        Segment("base", (Entry.from_bytes("init", b"#!/bin/sh\n", 0o755),), Compression.ZSTD),
        Segment("modules", tuple(tree_entries(modules, "usr/lib/modules/fs")), Compression.ZSTD),
    ]
    warm = build_initrd(segments, tmp_path / "initrd2", cache_dir=tmp_path / "cache", epoch=EPOCH)
    assert all(s.cached for s in warm.segments)
    assert (tmp_path / "initrd").read_bytes() == (tmp_path / "initrd2").read_bytes()
    assert any("modules" in line and "cached" in line for line in warm.summary())
    assert check_size_budget(warm, 1 << 30, BudgetAction.FAIL)
    with pytest.raises(UserError, match="biggest: modules"):
        check_size_budget(warm, 1 << 20, BudgetAction.FAIL)
    assert not check_size_budget(warm, 1 << 20, BudgetAction.WARN)


def test_lz4_must_be_the_last_segment(tmp_path: Path) -> None:
    segments = [
        Segment("a", (Entry.from_bytes("a", b""),), Compression.LZ4),
        Segment("b", (Entry.from_bytes("b", b""),), Compression.ZSTD),
    ]
    with pytest.raises(UserError, match="lz4"):
        build_initrd(segments, tmp_path / "x", cache_dir=tmp_path / "cache", epoch=EPOCH)


# --- boot the Debian kernel with the initrd in QEMU (TCG: KVM is broken here) --------------------------

KERNELS = sorted(glob.glob("/boot/vmlinuz-*"))
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
INIT = b"""#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "REARBUILD-INITRD-$(cat /etc/marker)-$(/bin/busybox stat -c %h /bin/sh)" > /dev/console
/bin/busybox poweroff -f
"""


@pytest.mark.slow
@pytest.mark.vm
@pytest.mark.skipif(not KERNELS or shutil.which("qemu-system-x86_64") is None, reason="needs kernel + QEMU")
@pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="apt-get install busybox-static")
@pytest.mark.parametrize(
    ("base", "last"),
    [(Compression.ZSTD, Compression.ZSTD), (Compression.XZ, Compression.XZ), (Compression.GZIP, Compression.LZ4)],
    ids=["zstd", "xz", "gzip+lz4"],
)
def test_kernel_boots_the_initrd(tmp_path: Path, base: Compression, last: Compression) -> None:
    busybox = Path(BUSYBOX)
    segments = [
        Segment(
            "base",
            (
                Entry.file("bin/busybox", busybox, 0o755),
                Entry.symlink("bin/sh", "busybox"),
                Entry.from_bytes("etc/marker", b"OK", 0o644),
                Entry.device("dev/console", Kind.CHAR_DEVICE, 5, 1),
                Entry.directory("proc"),
            ),
            base,
        ),
        # /init comes from a second, separately compressed archive: concatenation must work.
        Segment("init", (Entry.from_bytes("init", INIT, 0o755),), last),
    ]
    initrd = tmp_path / "initrd"
    build_initrd(segments, initrd, cache_dir=tmp_path / "cache", epoch=EPOCH)
    qemu: list[str | os.PathLike[str]] = [
        "timeout", "120",
        "qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic", "-serial", "stdio",
        "-monitor", "none", "-no-reboot", "-nodefaults",
        "-kernel", KERNELS[-1], "-initrd", initrd, "-append", "console=ttyS0 panic=-1",
    ]  # fmt: skip
    result = run(qemu, check=False, timeout=150)
    # busybox's stat of /bin/sh follows the link: one name for the busybox inode.
    assert "REARBUILD-INITRD-OK-1" in result.out, result.out[-3000:]


def test_packing_shows_progress_on_a_terminal_and_nothing_in_a_pipe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    segments = [Segment("base", tuple(sample_tree(tmp_path)), Compression.ZSTD)]
    shown: dict[str, io.StringIO] = {}
    for name, stream in (("terminal", Terminal()), ("pipe", io.StringIO())):
        clock = iter(range(0, 10**6))  # a second between two looks: each chunk may redraw the line
        progress = Progress("packing the initrd", None, stream=stream, clock=lambda ticks=clock: float(next(ticks)),
                            terminal_only=True)  # fmt: skip
        with caplog.at_level(logging.DEBUG, logger="rearbuild"):
            result = build_initrd(segments, tmp_path / name, cache_dir=tmp_path / f"cache-{name}", epoch=EPOCH,
                                  observe=progress.tap)  # fmt: skip
            progress.finish()
        assert progress.done == result.segments[0].uncompressed  # every byte of the archive was seen
        shown[name] = stream
    assert "\rpacking the initrd: " in shown["terminal"].getvalue()
    assert shown["pipe"].getvalue() == ""  # a pipe (cron) gets no progress line
    summaries = [r for r in caplog.records if r.getMessage().startswith("packing the initrd: ")]
    assert summaries and all(r.levelno == logging.INFO for r in summaries)  # the log, not a notice on stderr
