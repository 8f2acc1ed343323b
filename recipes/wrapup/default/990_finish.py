"""The end of a recovery: what the user does next, and for an unattended recovery (kernel option `unattended`)
UNATTENDED_FINISH: reboot into the recovered system (ReaR's behaviour), poweroff, or stay in the shell."""

from __future__ import annotations

from pathlib import Path

from rearbuild.context import Context
from rearbuild.log import notice
from rearbuild.recover.options import recover_options
from rearbuild.recover.recreate import stopped
from rearbuild.run import run


def _unattended() -> bool:
    try:
        return "unattended" in Path("/proc/cmdline").read_text().split()
    except OSError:
        return False


def main(ctx: Context) -> None:
    options = recover_options(ctx)
    if stopped(ctx):
        return
    if options.demo:
        notice("demo recovery finished: the restored files are in %s; no disk was touched", options.target_root)
        return
    notice("recovery finished: the recovered system is mounted at %s", options.target_root)
    if not (ctx.recovery_mode and _unattended()):
        notice("check it, then reboot (the rescue medium should not boot first)")
        return
    action = ctx.text("UNATTENDED_FINISH").strip().lower()
    if action in ("shell", "", "none"):
        return
    # file systems clean before the machine goes away
    run(["sync"], check=False)
    run(["umount", "-R", str(options.target_root)], check=False)
    notice("unattended recovery finished: %s", action)
    # The rescue system has no service manager to ask (Debian's reboot is systemctl): the kernel's magic SysRq
    # does it directly (Documentation/admin-guide/sysrq.rst: s = sync, o = power off, b = reboot).
    with open("/proc/sysrq-trigger", "w") as trigger:
        trigger.write("s")
        trigger.flush()
        trigger.write("o" if action == "poweroff" else "b")
