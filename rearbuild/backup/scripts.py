"""PRE_BACKUP_SCRIPT and POST_BACKUP_SCRIPT: the user's shell commands around every backup method's backup
(ReaR 2.7 backup/default/010_pre_backup_script.sh and 990_post_backup_script.sh, which `eval` them).

ReaR registers POST_BACKUP_SCRIPT as an exit task just before it runs PRE_BACKUP_SCRIPT, so that a database the
PRE script stopped is restarted even when the backup fails; with POST_BACKUP_SCRIPT alone, a failed backup does
not run it (default.conf). One difference: ReaR ignores a failing script, rearbuild stops the backup when the PRE
script fails (the state it prepares, e.g. a stopped database, is not there) and reports a failing POST script.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

log = logging.getLogger("rearbuild.backup")

PRE = "PRE_BACKUP_SCRIPT"
POST = "POST_BACKUP_SCRIPT"


def command_line(words: Sequence[str]) -> str:
    """What ReaR's eval "${VAR[@]}" runs: the array's elements joined with blanks."""
    return " ".join(w for w in words if w.strip())


def run_script(name: str, words: Sequence[str]) -> None:
    """Run the setting's commands with bash -c; a non-zero exit is a UserError naming the setting."""
    line = command_line(words)
    if not line:
        return
    notice("running %s", name)
    result = run(["bash", "-c", line], check=False)
    for text in (result.out, result.err):
        if text.strip():
            log.info("%s: %s", name, text.strip())
    if result.returncode != 0:
        tail = result.err.strip().splitlines()[-1:] or [""]
        raise UserError(
            f"{name} exited with {result.returncode}" + (f": {tail[0]}" if tail[0] else ""),
            hint=f"fix the commands in {name} (they run with bash -c)",
        )
