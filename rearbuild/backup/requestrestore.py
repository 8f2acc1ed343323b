"""BACKUP=REQUESTRESTORE (ReaR's default method): the disks are recreated and mounted, then an operator restores
the files into the target by hand -- from any backup software -- and tells the recovery to go on.

ReaR opens a `rear>` shell for this (restore/REQUESTRESTORE/default/200_prompt_user_to_start_restore.sh). Here
the recovery waits on its terminal instead; the operator works in another one (a second console, ssh, or
`setsid sh` from this one before it started) and answers when done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from rearbuild.config.model import truth
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.recover.options import RecoverOptions

# Besides ReaR's yes- and no-words (config.model.truth): ENTER or `exit` (leaving ReaR's rear> shell) go on.
_CONTINUE = ("", "done", "exit", "continue")
_ABORT = ("q", "quit", "abort")


def instructions(target: Path) -> str:
    return (
        f"BACKUP=REQUESTRESTORE: restore the files of this system into {target} now, by hand, with your backup\n"
        f"software (e.g. `tar -C {target} -xpf /path/backup.tar --numeric-owner --xattrs --acls`).\n"
        "Work in another terminal; when the restore is complete, press ENTER here to continue the recovery\n"
        "(or type 'abort' to stop it)."
    )


def _no_operator(target: Path) -> UserError:
    return UserError(
        f"BACKUP=REQUESTRESTORE needs an operator to restore the files into {target}, and this run is non-interactive",
        hint="run recover interactively, or configure a backup method (BACKUP=NETFS with BACKUP_URL)",
    )


def announce(options: RecoverOptions, *, interactive: bool) -> None:
    """In the verify stage, before any disk is touched: a run nobody can answer stops here, not after the disks
    were recreated and left empty."""
    if options.show_plan:
        return
    if not interactive:
        raise _no_operator(options.target_root)
    notice(
        "BACKUP=REQUESTRESTORE: after the disks are recreated you will be asked to restore the files into %s",
        options.target_root,
    )


def request_restore(options: RecoverOptions, *, interactive: bool, read_line: Callable[[], str] | None = None) -> None:
    target = options.target_root
    if options.show_plan:
        notice("restore: BACKUP=REQUESTRESTORE would wait for an operator to restore into %s", target)
        return
    if read_line is None:
        if not interactive:
            raise _no_operator(target)
        read_line = sys.stdin.readline
    target.mkdir(parents=True, exist_ok=True)
    notice("%s", instructions(target))
    while True:
        sys.stderr.write("restore done? [ENTER/abort] ")
        sys.stderr.flush()
        answer = read_line()
        if answer == "":  # end of input: nobody is there to answer
            raise UserError(f"no answer: the restore into {target} was not confirmed")
        word = answer.strip().lower()
        if word in _ABORT or truth(word) is False:
            raise UserError(f"recovery aborted by the operator before the restore into {target}")
        if word in _CONTINUE or truth(word) is True:
            if not any(os.scandir(target)):
                notice("%s is still empty; restore into it first (or type 'abort')", target)
                continue
            notice("operator confirmed the restore into %s", target)
            return
        notice("answer ENTER when the restore is done, or 'abort'")
