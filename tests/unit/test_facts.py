"""The kernel command line, read once per run."""

from __future__ import annotations

from pathlib import Path

from rearbuild.facts import KernelCmdline


def test_words_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "cmdline"
    path.write_text("BOOT_IMAGE=/vmlinuz root=/dev/vda1 net.ifnames=0 unattended biosdevname=0\n")
    cmdline = KernelCmdline.read(path)
    assert "unattended" in cmdline and "root" not in cmdline
    assert cmdline.with_keys(["biosdevname", "net.ifnames", "nomodeset"]) == ("net.ifnames=0", "biosdevname=0")
    assert cmdline.text.startswith("BOOT_IMAGE=/vmlinuz root=/dev/vda1")


def test_no_proc_means_an_empty_command_line(tmp_path: Path) -> None:
    cmdline = KernelCmdline.read(tmp_path / "missing")
    assert cmdline.words == () and "unattended" not in cmdline
