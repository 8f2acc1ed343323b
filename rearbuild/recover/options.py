"""The arguments of `rearbuild recover` (and restoreonly), parsed once per run and shared by the recipes.

rearbuild recover                 recover this machine: verify, recreate the disks, restore, finalize
rearbuild recover --plan          print the plan (ReaR's diskrestore.sh) and change nothing
rearbuild recover --plan-file F   run an edited plan instead of the generated one
rearbuild recover --demo DIR      restore into DIR instead of /mnt/local and touch no disk
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rearbuild.context import TARGET_FS_ROOT, Context
from rearbuild.errors import UserError
from rearbuild.workflow import Workflow

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
    ns = Workflow.parse(workflow).parse_arguments(args)
    if ns.demo is not None and ns.plan_file is not None:
        raise UserError("--demo restores into a directory and runs no plan; --plan-file makes no sense with it")
    demo = Path(ns.demo).absolute() if ns.demo is not None else None
    plan_file = Path(ns.plan_file) if ns.plan_file is not None else None
    return RecoverOptions(show_plan=ns.plan, plan_file=plan_file, demo_dir=demo)


def recover_options(ctx: Context) -> RecoverOptions:
    found = ctx.results.get(_KEY)
    if not isinstance(found, RecoverOptions):
        found = _parse(ctx.options.args, ctx.options.workflow)
        ctx.results[_KEY] = found
    return found
