"""BACKUP=FDRUPSTREAM: FDR/Upstream restores the system; rearbuild starts its client in the rescue system and
hands over to the operator, who runs the restore from the Director or as a batch job (ReaR 2.7 prep/FDRUPSTREAM,
restore/FDRUPSTREAM). Restore-only: "ReaR will not perform an FDR/Upstream backup" (default.conf).

    prep      FDRUPSTREAM_INSTALL_PATH/fdrupstream must be installed; COPY_AS_IS_FDRUPSTREAM (install, config and
              data directories) minus COPY_AS_IS_EXCLUDE_FDRUPSTREAM (DATA/rear, INSTALL/usserver) and col go in
    verify    an operator must be there (the hand-over waits for one): checked before any disk is written
    restore   `FDRUPSTREAM_INSTALL_PATH/fdrupstream start`, then: "Perform your restore using Director or by
              submitting a batch job. IMPORTANT: Restore the entire '/' filesystem to '/mnt/local'", and wait;
              afterwards the services' *.log and *.rpt files are copied into TARGET/DATA/rear/logs

ReaR finds the services from `ps` (uscmd1 ... servicename=NAME); rearbuild takes the service directories below
FDRUPSTREAM_DATA_PATH that have a logs/ directory. Not run against the real product: verified with a stand-in.
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

from rearbuild.backup.vendor import Payload, client_env
from rearbuild.config.model import Config
from rearbuild.errors import UserError
from rearbuild.log import notice
from rearbuild.run import run

PRODUCT = "FDR/Upstream"


@dataclass(frozen=True)
class FdrSettings:
    payload: Payload
    install: Path  # FDRUPSTREAM_INSTALL_PATH
    data: Path  # FDRUPSTREAM_DATA_PATH

    @property
    def starter(self) -> Path:
        return self.install / "fdrupstream"


def settings(config: Config) -> FdrSettings:
    install = Path(config.text("FDRUPSTREAM_INSTALL_PATH") or "/opt/fdrupstream")
    return FdrSettings(
        payload=Payload(
            method="FDRUPSTREAM",
            product=PRODUCT,
            programs=(*config.items("PROGS_FDRUPSTREAM"), "col"),
            files=(*config.items("COPY_AS_IS_FDRUPSTREAM"),),
            exclude=config.items("COPY_AS_IS_EXCLUDE_FDRUPSTREAM"),
            required=(str(install / "fdrupstream"),),
            ld_library_path=config.text("FDRUPSTREAM_LD_LIBRARY_PATH"),
        ),
        install=install,
        data=Path(config.text("FDRUPSTREAM_DATA_PATH") or "/var/opt/fdrupstream"),
    )


def start(s: FdrSettings) -> None:
    notice("starting FDR/Upstream")
    result = run([str(s.starter), "start"], env=client_env(s.payload.ld_library_path), check=False)
    if result.returncode != 0:
        raise UserError(
            f"{s.starter} start failed (exit {result.returncode}): FDR/Upstream cannot restore",
            hint=f"see its messages in the log; the client files are in {s.install}",
        )


def instructions(target: Path) -> str:
    return (
        "Perform your restore using Director or by submitting a batch job.\n"
        f"IMPORTANT: Restore the entire '/' filesystem to '{target}' on the recovery system.\n"
        "When the restore is complete, press ENTER here."
    )


def copy_logs(s: FdrSettings, target: Path, now: datetime.datetime | None = None) -> tuple[Path, ...]:
    """The services' logs and reports of this restore into the restored system (ReaR's rear_<date> prefix)."""
    prefix = f"rear_{(now or datetime.datetime.now()):%Y-%m-%d_%H:%M:%S}"
    into = target / str(s.data).lstrip("/") / "rear/logs"
    copied = []
    for logs in sorted(s.data.glob("*/logs")):
        if logs.parent.name == "rear":
            continue
        for f in sorted([*logs.glob("*.log"), *logs.glob("*.rpt")]):
            into.mkdir(parents=True, exist_ok=True)
            dest = into / f"{prefix}_{logs.parent.name}_{f.name}"
            shutil.copy2(f, dest)
            copied.append(dest)
    if not copied:
        notice("no FDR/Upstream logs found below %s: copy them into %s by hand before rebooting", s.data, target)
    return tuple(copied)
