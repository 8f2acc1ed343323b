"""Questions recovery asks before it destroys data, answered by USER_INPUT_<ID>, by unattended mode, or on the
terminal (ReaR's UserInput -I <ID>, lib/_input-output-functions.sh).

`rear -n recover` (what the rescue init runs for the `unattended` kernel option) answers every question with
its default "go on". A question nobody can answer (no terminal) is an error naming the variable to set.
"""

from __future__ import annotations

import enum
import select
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from rearbuild.config.model import Config, truth
from rearbuild.errors import UserError
from rearbuild.log import notice

# Answers that mean "go on" beyond ReaR's yes-words (ReaR's UserInput accepts them for confirmations).
_GO_ON = frozenset({"confirm", "continue"})


def _yes(word: str) -> bool:
    return truth(word) is True or word.strip().lower() in _GO_ON


class Question(enum.Enum):
    """The questions, by ReaR's UserInput ids."""

    # layout/recreate 100_confirm_layout_code.sh: run the disk recreation plan (migration mode).
    LAYOUT_CODE_CONFIRMATION = "LAYOUT_CODE_CONFIRMATION"
    # layout/recreate 120_confirm_wipedisk_disks.sh: wipe disks that hold data.
    WIPE_DISKS_CONFIRMATION = "WIPE_DISKS_CONFIRMATION"

    @property
    def variable(self) -> str:
        return f"USER_INPUT_{self.value}"


@dataclass(frozen=True)
class Answers:
    """Who answers: USER_INPUT_<ID> presets, then unattended mode (-n) says yes, then the terminal."""

    presets: Mapping[Question, str] = field(default_factory=dict)
    unattended: bool = False
    timeout: int = 300  # USER_INPUT_TIMEOUT, seconds

    @classmethod
    def from_config(cls, config: Config, *, unattended: bool) -> Answers:
        presets = {q: config.text(q.variable).strip() for q in Question if config.text(q.variable).strip()}
        return cls(presets, unattended, config.number("USER_INPUT_TIMEOUT"))

    def confirm(self, question: Question, text: str) -> bool:
        """True to go on."""
        preset = self.presets.get(question, "")
        if preset:
            answer = _yes(preset)
            notice("%s (%s=%s): %s", text, question.variable, preset, "yes" if answer else "no")
            return answer
        if self.unattended:
            notice("%s: yes (unattended)", text)
            return True
        if not sys.stdin.isatty():
            raise UserError(
                f"{text}: nobody can answer (no terminal)",
                hint=f"set {question.variable}=yes in local.conf, or run `rear -n recover` (unattended)",
            )
        sys.stderr.write(f"{text} [yes/no] (no answer within {self.timeout} s means no): ")
        sys.stderr.flush()
        ready, _, _ = select.select([sys.stdin], [], [], self.timeout)
        typed = sys.stdin.readline() if ready else ""
        return _yes(typed)
