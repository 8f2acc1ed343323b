"""The arguments of `rearbuild recover` (and restoreonly), parsed once per run and shared by the recipes.

rearbuild recover                 recover this machine: verify, recreate the disks, restore, finalize
rearbuild recover --plan          print the plan (ReaR's diskrestore.sh) and change nothing
rearbuild recover --plan-file F   run an edited plan instead of the generated one
rearbuild recover --demo DIR      restore into DIR instead of /mnt/local and touch no disk
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from rearbuild.context import TARGET_FS_ROOT, Context
from rearbuild.errors import UserError

_KEY = "recover_options"


@dataclass(frozen=True)
class RecoverOptions:
    show_plan: bool = False
    plan_file: Path | None = None
    demo_dir: Path | None = None

    @property
    def demo(self) -> bool:
        return self.demo_dir is not None

    @property
    def target_root(self) -> Path:
        """Where the recovered system is mounted: /mnt/local, or the demo directory."""
        return self.demo_dir if self.demo_dir is not None else Path(TARGET_FS_ROOT)

    @property
    def touches_disks(self) -> bool:
        return not self.show_plan and not self.demo


def _parse(args: tuple[str, ...], workflow: str) -> RecoverOptions:
    parser = argparse.ArgumentParser(prog=f"rearbuild {workflow}", add_help=False, exit_on_error=False)
    parser.add_argument("--plan", action="store_true")
    parser.add_argument("--plan-file", type=Path)
    parser.add_argument("--demo", type=Path, metavar="DIR")
    try:
        ns = parser.parse_args(list(args))
    except (argparse.ArgumentError, SystemExit) as exc:
        raise UserError(
            f"bad arguments for {workflow}: {' '.join(args)} ({exc})",
            hint=f"rearbuild {workflow} [--plan | --plan-file FILE | --demo DIR]",
        ) from None
    if ns.demo is not None and ns.plan_file is not None:
        raise UserError("--demo restores into a directory and runs no plan; --plan-file makes no sense with it")
    demo = ns.demo.absolute() if ns.demo is not None else None
    return RecoverOptions(show_plan=ns.plan, plan_file=ns.plan_file, demo_dir=demo)


def recover_options(ctx: Context) -> RecoverOptions:
    found = ctx.results.get(_KEY)
    if not isinstance(found, RecoverOptions):
        found = _parse(ctx.options.args, ctx.options.workflow)
        ctx.results[_KEY] = found
    return found
