"""Questions recovery asks before it destroys data, answered by USER_INPUT_<ID>, by unattended mode, or on the
terminal (ReaR's UserInput -I <ID>, lib/_input-output-functions.sh).

`rear -n recover` (what the rescue init runs for the `unattended` kernel option) answers every question with
its default "go on". A question nobody can answer (no terminal) is an error naming the variable to set.
"""

from __future__ import annotations

import enum
import select
import sys

from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice

_YES = frozenset({"y", "yes", "1", "confirm", "continue", "true"})


class Question(enum.Enum):
    """The questions, by ReaR's UserInput ids."""

    # layout/recreate 100_confirm_layout_code.sh: run the disk recreation plan (migration mode).
    LAYOUT_CODE_CONFIRMATION = "LAYOUT_CODE_CONFIRMATION"
    # layout/recreate 120_confirm_wipedisk_disks.sh: wipe disks that hold data.
    WIPE_DISKS_CONFIRMATION = "WIPE_DISKS_CONFIRMATION"

    @property
    def variable(self) -> str:
        return f"USER_INPUT_{self.value}"


def confirm(ctx: Context, question: Question, text: str) -> bool:
    """True to go on. USER_INPUT_<ID> wins; then unattended (-n) says yes; then the terminal is asked."""
    preset = ctx.text(question.variable).strip()
    if preset:
        answer = preset.lower() in _YES
        notice("%s (%s=%s): %s", text, question.variable, preset, "yes" if answer else "no")
        return answer
    if ctx.options.non_interactive:
        notice("%s: yes (unattended)", text)
        return True
    if not sys.stdin.isatty():
        raise UserError(
            f"{text}: nobody can answer (no terminal)",
            hint=f"set {question.variable}=yes in local.conf, or run `rear -n recover` (unattended)",
        )
    timeout = ctx.number("USER_INPUT_TIMEOUT")
    sys.stderr.write(f"{text} [yes/no] (no answer within {timeout} s means no): ")
    sys.stderr.flush()
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    typed = sys.stdin.readline().strip().lower() if ready else ""
    return typed in _YES
