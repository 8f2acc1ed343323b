"""`rearbuild install`: the files that make rearbuild a citizen of the host, generated and put in place.

- the man page rearbuild(8) and the bash completion, generated from the command line, the workflow list and the
  variable reference (rearbuild.docs), under PREFIX/share (default /usr/local: man and bash-completion look there);
- a systemd service + timer that run `rearbuild checklayout || rearbuild mkrescue` nightly (ReaR's documented
  cron line), installed into /etc/systemd/system but neither enabled nor started: the administrator decides;
- the same as a cron example, /etc/cron.d/rearbuild, with the line commented out (as ReaR's Debian package does).

Everything goes below a root directory (--root), so a package build or a test installs into a directory.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from rearbuild.atomicfile import atomic_write
from rearbuild.config.reference import VariableDoc
from rearbuild.docs import completion, manpage
from rearbuild.workflow import Workflow

UNIT = "rearbuild-checklayout"


def _service(command: str) -> str:
    return f"""[Unit]
Description=Rebuild the rescue image when the disk layout changed (rearbuild checklayout || rearbuild mkrescue)
Documentation=man:rearbuild(8)
After=local-fs.target

[Service]
Type=oneshot
# checklayout prints nothing and exits 0 when the layout is unchanged; mkrescue runs only when it changed.
ExecStart=/bin/sh -c {shlex.quote(f"{command} checklayout || {command} mkrescue")}
Nice=10
IOSchedulingClass=idle
"""


_TIMER = f"""[Unit]
Description=Nightly rescue image check (rearbuild checklayout || rearbuild mkrescue)
Documentation=man:rearbuild(8)

[Timer]
OnCalendar=*-*-* 01:30:00
RandomizedDelaySec=30min
Persistent=true
Unit={UNIT}.service

[Install]
WantedBy=timers.target
"""


def _cron(command: str) -> str:
    return f"""# rearbuild: rebuild the rescue image every night when the disk layout changed (ReaR's documented use).
# checklayout prints nothing when the layout is unchanged, so cron mails only when something happened.
# Uncomment to enable (or use the systemd timer: systemctl enable --now {UNIT}.timer).
#30 1 * * * root {command} checklayout || {command} mkrescue
"""


@dataclass(frozen=True)
class Installed:
    manpage: Path
    completion: Path
    service: Path
    timer: Path
    cron: Path

    def all(self) -> tuple[Path, ...]:
        return (self.manpage, self.completion, self.service, self.timer, self.cron)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode(), mode=0o644)


def generate_manpage(parser: argparse.ArgumentParser, variables: tuple[VariableDoc, ...], version: str) -> str:
    # the date of the page: SOURCE_DATE_EPOCH when a package build sets it, so the page is reproducible
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
    date = datetime.datetime.fromtimestamp(epoch, datetime.UTC).date() if epoch else datetime.date.today()
    return manpage.render(parser, list(Workflow), variables, version=version, date=date)


def documentation(
    parser: argparse.ArgumentParser, variables: tuple[VariableDoc, ...], version: str
) -> dict[str, str]:
    """The generated documentation by its path below PREFIX/share (setup.py ships the same in the wheel)."""
    return {
        "man/man8/rearbuild.8": generate_manpage(parser, variables, version),
        "bash-completion/completions/rearbuild": completion.render(parser, list(Workflow), variables),
    }


def install(
    root: Path,
    *,
    prefix: str,
    command: str,
    parser: argparse.ArgumentParser,
    variables: tuple[VariableDoc, ...],
    version: str,
) -> Installed:
    """Write every file below root; command is how the units and cron call rearbuild (an absolute path)."""
    share = root / prefix.lstrip("/") / "share"
    done = Installed(
        manpage=share / "man" / "man8" / "rearbuild.8",
        completion=share / "bash-completion" / "completions" / "rearbuild",
        service=root / "etc" / "systemd" / "system" / f"{UNIT}.service",
        timer=root / "etc" / "systemd" / "system" / f"{UNIT}.timer",
        cron=root / "etc" / "cron.d" / "rearbuild",
    )
    for relative, text in documentation(parser, variables, version).items():
        _write(share / relative, text)
    _write(done.service, _service(shlex.quote(command)))
    _write(done.timer, _TIMER)
    _write(done.cron, _cron(shlex.quote(command)))
    return done
