"""ReaR's recovery hooks: user code run in the rescue system at the very start and the very end of a recovery.

ReaR (setup/default/010_pre_recovery_script.sh, wrapup/default/500_post_recovery_script.sh) evals, in its own
bash: each PRE_RECOVERY_COMMANDS element, then PRE_RECOVERY_SCRIPT (an array's words joined by blanks are one
command line, a string is one too) before anything is done; POST_RECOVERY_SCRIPT, then each
POST_RECOVERY_COMMANDS element after the restore and the boot loader, with the recovered system at
$TARGET_FS_ROOT. rearbuild runs each with bash as well, with TARGET_FS_ROOT exported. The code travels in an
environment variable, never on the command line (argv is logged, and a hook may carry a secret).

A hook that fails stops the recovery with its name and output: before the disks are touched that is the safe
end, and after the restore the user must know that the last step they asked for did not happen (ReaR goes on).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

log = logging.getLogger("rearbuild.recover.hooks")

# The environment variable the hook's code travels in (bash -c 'eval "$..."' runs it).
_CODE = "REARBUILD_HOOK_CODE"


@dataclass(frozen=True)
class Hook:
    variable: str  # where the code comes from, for messages: PRE_RECOVERY_SCRIPT, PRE_RECOVERY_COMMANDS[1]
    code: str


def hooks_before(commands: Sequence[str], script: Sequence[str]) -> tuple[Hook, ...]:
    """PRE_RECOVERY_COMMANDS (each element one command), then PRE_RECOVERY_SCRIPT (all words one command)."""
    return (*_commands("PRE_RECOVERY_COMMANDS", commands), *_script("PRE_RECOVERY_SCRIPT", script))


def hooks_after(script: Sequence[str], commands: Sequence[str]) -> tuple[Hook, ...]:
    """POST_RECOVERY_SCRIPT, then POST_RECOVERY_COMMANDS: ReaR's order, so the commands may clean up."""
    return (*_script("POST_RECOVERY_SCRIPT", script), *_commands("POST_RECOVERY_COMMANDS", commands))


def _script(variable: str, words: Sequence[str]) -> tuple[Hook, ...]:
    code = " ".join(words).strip()
    return (Hook(variable, code),) if code else ()


def _commands(variable: str, commands: Sequence[str]) -> tuple[Hook, ...]:
    return tuple(Hook(f"{variable}[{i}]", c) for i, c in enumerate(commands) if c.strip())


def run_hooks(hooks: Sequence[Hook], *, target_root: Path) -> None:
    """Run each hook with bash, TARGET_FS_ROOT exported; its output goes to the log; a failure is a UserError."""
    for hook in hooks:
        notice("running %s", hook.variable)
        env = {**os.environ, "TARGET_FS_ROOT": str(target_root), _CODE: hook.code}
        result = run(["bash", "-c", f'eval "${_CODE}"'], env=env, check=False)
        for name, text in (("stdout", result.out), ("stderr", result.err)):
            if text.strip():
                log.info("%s of %s:\n%s", name, hook.variable, text.rstrip())
        if result.returncode != 0:
            last = (result.err.strip() or result.out.strip()).splitlines()[-1:]
            detail = f": {last[0]}" if last else ""
            raise UserError(
                f"{hook.variable} failed with status {result.returncode}{detail}",
                hint=f"fix {hook.variable} in local.conf (it runs with bash in the rescue system), or run it "
                "by hand; its whole output is in the log",
            )


def skipped_in_demo(hooks: Sequence[Hook]) -> None:
    """A demo recovery runs on a live host: hooks written for the rescue system (wipefs, grub-install ...) are
    not run there; say so once per hook."""
    for hook in hooks:
        notice("demo recovery: %s is not run (it runs only in the rescue system)", hook.variable)
