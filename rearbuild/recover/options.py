"""The arguments of `rearbuild recover` (and restoreonly), parsed once per run and shared by the recipes
(Context.recover).

rearbuild recover                 recover this machine: verify, recreate the disks, restore, finalize
rearbuild recover --plan          print the plan (ReaR's diskrestore.sh) and change nothing
rearbuild recover --plan-file F   run an edited plan instead of the generated one
rearbuild recover --demo DIR      restore into DIR instead of /mnt/local and touch no disk
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError

# Where the recovered system is mounted during recovery (ReaR: readonly TARGET_FS_ROOT=/mnt/local).
TARGET_FS_ROOT = "/mnt/local"


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

    @classmethod
    def of(cls, *, plan: bool = False, plan_file: str | None = None, demo: str | None = None) -> RecoverOptions:
        """From the command line's words (rearbuild.workflow parses them)."""
        if demo is not None and plan_file is not None:
            raise UserError("--demo restores into a directory and runs no plan; --plan-file makes no sense with it")
        return cls(
            show_plan=plan,
            plan_file=Path(plan_file) if plan_file is not None else None,
            demo_dir=Path(demo).absolute() if demo is not None else None,
        )
