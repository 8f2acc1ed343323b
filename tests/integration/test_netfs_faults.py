"""BACKUP=NETFS under concurrency and faults, with the real CLI as separate processes, the real tar and a real
small ext4 file system: two backups to one location at once, a backup beside a restore, SIGTERM/SIGINT/SIGKILL
at (seeded) random points, and a full file system at every write. Whatever happens, the last good backup stays
complete with its matching checksum and restores with restoreonly --demo to the same files."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.run import run
from tests.conftest import RearEnv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="loop devices and mounts need root"),
]

SEED = 9  # the fault points below are random but repeatable



def configure(env: RearEnv, tree: Path, location: Path, *extra: str) -> None:
    lines = [
        "BACKUP=NETFS",
        f"BACKUP_URL=file://{location}",
        "BACKUP_ONLY_INCLUDE=y",
        f"BACKUP_PROG_INCLUDE=( '{tree}' )",
        "BACKUP_PROG_EXCLUDE=()",
        "NETFS_PREFIX=testhost",
        *extra,
    ]
    env.write("etc/local.conf", "\n".join(lines) + "\n")


def fill(tree: Path, version: str, size: int) -> dict[str, bytes]:
    """A tree whose content tells its version; random bytes so that compression takes measurable time."""
    tree.mkdir(parents=True, exist_ok=True)
    for old in tree.iterdir():
        old.unlink()
    files = {"version": version.encode(), "data": random.Random(version).randbytes(size)}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    return files


def launch(env: RearEnv, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(env.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def cli(env: RearEnv, *args: str) -> tuple[int, str]:
    return finish(launch(env, *args))


def wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def partials(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.partial*")) if directory.is_dir() else []


def restored_version(env: RearEnv, tree: Path) -> dict[str, bytes]:
    """restoreonly --demo into a fresh directory: the files the backup gives back."""
    demo = env.root / f"demo-{time.monotonic_ns()}"
    status, output = cli(env, "restoreonly", "--demo", str(demo))
    assert status == 0, output
    restored = demo / str(tree).lstrip("/")
    return {p.name: p.read_bytes() for p in restored.iterdir()}


def assert_consistent(directory: Path) -> None:
    """The archive there and its .sha256 agree (sha256sum -c, as an administrator checks by hand) -- or, after a
    kill between the commit's two renames, the .sha256.new that the next run turns into the .sha256."""
    assert (directory / "backup.tar.gz").is_file(), sorted(p.name for p in directory.iterdir())
    for side in ("backup.tar.gz.sha256", "backup.tar.gz.sha256.new"):
        if (directory / side).is_file() and run(["sha256sum", "-c", side], cwd=directory, check=False).returncode == 0:
            return
    raise AssertionError(f"no checksum matches the archive in {directory}")


def descendants_alive(marker: str) -> list[str]:
    """Processes whose command line mentions marker (the test's private paths), zombies excluded."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state != "Z" and int(pid) != os.getpid():
            found.append(cmdline)
    return found


# ---- two runs at once -------------------------------------------------------------------------------------------


def test_a_second_backup_to_the_same_location_is_refused(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    directory = location / "testhost"
    files = fill(tree, "v1", 8 << 20)
    configure(env, tree, location, "BACKUP_PROG_COMPRESS=xz")  # xz: seconds, so that the runs overlap
    first = launch(env, "mkbackuponly")
    wait_for(lambda: partials(directory))
    second_status, second_output = cli(env, "mkbackuponly")
    first_status, first_output = finish(first)
    assert first_status == 0, first_output
    assert second_status == 1, second_output
    assert "another backup" in second_output and f"pid {first.pid}" in second_output
    assert "Traceback" not in second_output and "BUG" not in second_output
    assert_consistent_xz(directory)
    assert restored_version(env, tree) == files


def assert_consistent_xz(directory: Path) -> None:
    result = run(["sha256sum", "-c", "backup.tar.xz.sha256"], cwd=directory, check=False)
    assert result.returncode == 0, result.out + result.err


def test_identical_backups_started_together_never_crash(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    files = fill(tree, "same", 1 << 20)
    configure(env, tree, location)
    outcomes = []
    for _ in range(3):
        runs = [launch(env, "mkbackuponly") for _ in range(2)]
        outcomes += [finish(p) for p in runs]
        assert_consistent(location / "testhost")
    assert all(status in (0, 1) for status, _ in outcomes), outcomes
    assert all("Traceback" not in output and "BUG" not in output for _, output in outcomes)
    assert [out for status, out in outcomes if status == 1 and "another backup" not in out] == []
    assert any(status == 0 for status, _ in outcomes)
    assert restored_version(env, tree) == files


def test_a_backup_beside_a_restore(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    old = fill(tree, "old", 4 << 20)
    configure(env, tree, location)
    assert cli(env, "mkbackuponly")[0] == 0
    new = fill(tree, "new", 4 << 20)
    backup = launch(env, "mkbackuponly")
    demo = env.root / "demo"
    restore_status, restore_output = cli(env, "restoreonly", "--demo", str(demo))
    backup_status, backup_output = finish(backup)
    assert backup_status == 0, backup_output
    assert restore_status == 0, restore_output
    restored = {p.name: p.read_bytes() for p in (demo / str(tree).lstrip("/")).iterdir()}
    assert restored in (old, new)
    assert restored_version(env, tree) == new


# ---- signals ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_rearbuild_alone_stops_the_backup_at_once(env: RearEnv, signum: int) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    fill(tree, "big", 16 << 20)  # xz needs ~10 s for it on this host
    configure(env, tree, location, "BACKUP_PROG_COMPRESS=xz")
    proc = launch(env, "mkbackuponly")
    wait_for(lambda: partials(location / "testhost"))
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signum)  # to the main process only, as kill PID or systemd's stop would
    status, output = finish(proc)
    assert time.monotonic() - sent < 3, "rearbuild waited for tar to finish"
    assert status in (130, 143) and "aborted" in output, output
    assert descendants_alive(str(tree)) == []
    assert partials(location / "testhost") == [] and env.build_dirs() == []


def test_leftovers_of_a_killed_backup_are_removed_by_the_next_run(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    directory = location / "testhost"
    files = fill(tree, "v1", 1 << 20)
    configure(env, tree, location)
    assert cli(env, "mkbackuponly")[0] == 0
    fill(tree, "v2", 64 << 20)  # gzip needs seconds for it
    proc = launch(env, "mkbackuponly")
    wait_for(lambda: partials(directory))
    proc.kill()
    proc.communicate()
    wait_for(lambda: descendants_alive(str(tree)) == [], timeout=30)  # tar sees EPIPE once rearbuild is gone
    assert partials(directory) and env.build_dirs(), "SIGKILL left nothing behind: nothing to test"
    killed_area, partial = env.build_dirs()[0], partials(directory)[0]
    demo = env.root / "demo"
    status, output = cli(env, "restoreonly", "--demo", str(demo))  # the last good backup is intact meanwhile
    assert status == 0, output
    assert {p.name: p.read_bytes() for p in (demo / str(tree).lstrip("/")).iterdir()} == files
    assert f"removed the build area {killed_area} left by an interrupted run" in output
    fill(tree, "v3", 1 << 20)
    status, output = cli(env, "mkbackuponly")
    assert status == 0, output
    assert f"removed {partial}, left by an interrupted run" in output
    assert partials(directory) == [] and env.build_dirs() == []


# ---- modes and what a backup holds ------------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_the_archive_is_readable_by_root_only(env: RearEnv, open_umask: None) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    fill(tree, "v1", 1024)
    configure(env, tree, location)
    status, output = cli(env, "mkbackuponly")
    assert status == 0, output
    archive = location / "testhost/backup.tar.gz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600


def test_the_tools_own_files_are_never_backed_up(env: RearEnv) -> None:
    """rear_env puts VAR_DIR (with its cache/ and output/) and TMPDIR (the build areas) below env.root."""
    location = env.root / "backup"
    cache = env.var_dir / "cache" / "initrd-segments"
    output = env.var_dir / "output" / "rear-host.iso"
    iso_dir = env.root / "isos" / "rear-host.iso"
    kept = env.root / "data" / "kept.txt"
    for path in (cache, output, iso_dir, kept):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    configure(env, env.root, location, f"ISO_DIR={iso_dir.parent}", f"OUTPUT_URL=file://{env.root}/published",
              "OUTPUT_PREFIX=host")  # fmt: skip
    (env.root / "published/host").mkdir(parents=True)
    (env.root / "published/host/rear-host.iso").write_text("x")
    status, output = cli(env, "mkbackuponly")
    assert status == 0, output
    names = run(["tar", "-tzf", str(location / "testhost/backup.tar.gz")]).out.splitlines()
    root = str(env.root).lstrip("/")
    assert f"{root}/data/kept.txt" in names
    leaked = [n for n in names if n.startswith((f"{root}/var/cache/", f"{root}/var/output/", f"{root}/isos/",
                                                 f"{root}/published/host", f"{root}/tmp/rear."))]  # fmt: skip
    assert leaked == []


# ---- a full file system -----------------------------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB ext4 file system (no reserved blocks: root fills it like anyone) on a loop device."""
    image, mountpoint = tmp_path / "fs.img", tmp_path / "small"
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    run(["mkfs.ext4", "-q", "-m", "0", "-F", str(image)])
    mountpoint.mkdir()
    run(["mount", "-o", "loop", str(image), str(mountpoint)])
    try:
        yield mountpoint
    finally:
        run(["umount", str(mountpoint)], check=False)


def leave_free(mountpoint: Path, free: int) -> Path:
    """Fill the file system so that `free` bytes are left (rounded down to blocks)."""
    filler = mountpoint / "filler"
    filler.unlink(missing_ok=True)
    os.sync()
    st = os.statvfs(mountpoint)
    size = st.f_bavail * st.f_frsize - free
    # fallocate needs a few blocks of its own for the extent tree: retry a little smaller
    while size > 0 and run(["fallocate", "-l", str(size), str(filler)], check=False).returncode != 0:
        filler.unlink(missing_ok=True)
        size -= st.f_frsize
    return filler


def test_a_full_file_system_at_every_write_keeps_the_last_good_backup(env: RearEnv, small_fs: Path) -> None:
    tree, location = env.root / "tree", small_fs / "backup"
    directory = location / "testhost"
    good = fill(tree, "good", 1 << 20)
    configure(env, tree, location)
    assert cli(env, "mkbackuponly")[0] == 0
    size = (directory / "backup.tar.gz").stat().st_size
    block = os.statvfs(small_fs).f_frsize
    # Free space from none to a little more than a new archive needs, block by block around the archive's size
    # (there the checksum and the companions hit the limit) and in coarse seeded steps below it.
    rng = random.Random(SEED)
    frees = sorted({0, block, *rng.sample(range(0, size, block), 6), *range(size - 2 * block, size + 8 * block, block)})
    figures = {"cases": 0, "clean errors": 0, "crashes": 0, "wrong results": 0, "data lost": 0}
    for i, free in enumerate(frees):
        candidate = fill(tree, f"try{i}", 1 << 20)
        filler = leave_free(small_fs, free)
        status, output = cli(env, "mkbackuponly")
        filler.unlink(missing_ok=True)
        figures["cases"] += 1
        if status == 1 and "Traceback" not in output:
            figures["clean errors"] += 1
        elif status != 0:
            figures["crashes"] += 1
        try:
            assert_consistent(directory)
            restored = restored_version(env, tree)
        except AssertionError:
            figures["data lost"] += 1
            continue
        if restored != (candidate if status == 0 else good):
            figures["wrong results"] += 1
        if status == 0:
            good = candidate
    print(f"full file system: {figures}")
    assert figures["crashes"] == figures["wrong results"] == figures["data lost"] == 0, figures
    assert figures["clean errors"] > 0


def test_sigkill_at_random_points_keeps_the_last_good_backup(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    directory = location / "testhost"
    good = fill(tree, "good", 1 << 20)
    configure(env, tree, location)
    assert cli(env, "mkbackuponly")[0] == 0
    started = time.monotonic()
    assert cli(env, "mkbackuponly")[0] == 0
    duration = time.monotonic() - started
    rng = random.Random(SEED)
    figures = {"cases": 0, "killed": 0, "crashes": 0, "wrong results": 0, "data lost": 0}
    for i in range(8):
        candidate = fill(tree, f"kill{i}", 1 << 20)
        proc = launch(env, "mkbackuponly")
        time.sleep(rng.uniform(0, duration))
        proc.kill()
        status, output = finish(proc)
        figures["cases"] += 1
        figures["killed"] += status == -signal.SIGKILL
        if status not in (0, -signal.SIGKILL):
            figures["crashes"] += 1
        wait_for(lambda: descendants_alive(str(tree)) == [], timeout=30)
        try:
            assert_consistent(directory)
            restored = restored_version(env, tree)
        except AssertionError as exc:
            print(f"kill {i}: {exc}")
            figures["data lost"] += 1
            continue
        if restored == candidate:
            good = candidate
        elif restored != good:
            figures["wrong results"] += 1
    print(f"SIGKILL at random points: {figures}")
    assert figures["crashes"] == figures["wrong results"] == figures["data lost"] == 0, figures
    status, output = cli(env, "mkbackuponly")  # and the next run cleans up after all of them
    assert status == 0, output
    assert partials(directory) == [] and env.build_dirs() == []


# ---- a checksum path that is not a file -------------------------------------------------------------------------


def test_a_checksum_path_that_is_a_directory_is_a_clear_error(env: RearEnv) -> None:
    tree, location = env.root / "tree", env.root / "backup"
    fill(tree, "v1", 1024)
    configure(env, tree, location)
    (location / "testhost/backup.tar.gz.sha256").mkdir(parents=True)
    status, output = cli(env, "mkbackuponly")
    assert status == 1 and "backup.tar.gz.sha256 is a directory" in output, output
    assert not (location / "testhost/backup.tar.gz").exists()
    (location / "testhost/backup.tar.gz").write_bytes(b"x")
    status, output = cli(env, "restoreonly", "--demo", str(env.root / "demo"))
    assert status == 1 and "backup.tar.gz.sha256 is a directory" in output, output
