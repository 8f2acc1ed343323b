"""Recovery writes disks: it runs in a rescue system, unless it only prints the plan or restores into a demo
directory (the seed's demo recovery, which touches no disk and runs anywhere)."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.finish import Finish


def main(ctx: Context) -> None:
    options = ctx.recover
    Finish.parse(ctx.text("UNATTENDED_FINISH"))  # a typo is found now, not after the disks were recreated
    if options.touches_disks and not ctx.recovery_mode:
        raise UserError(
            f"{ctx.options.workflow.value} works on this machine's disks and runs only in the rescue system "
            f"({ctx.paths.rescue_marker} does not exist here)",
            hint=f"boot the rescue image, or try it here with: rearbuild {ctx.options.workflow.value} --demo DIR "
            "(restores into DIR, touches no disk) or --plan",
        )
    if options.demo_dir is not None:
        options.demo_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        if any(options.demo_dir.iterdir()):
            notice("demo recovery into %s (not empty: restored files are added to what is there)", options.demo_dir)
        else:
            notice("demo recovery into %s: no disk will be touched", options.demo_dir)
