"""BACKUP=BACULA: Bacula's programs and configuration are here and the director reaches this client (or, without
a director, bextract and bacula-sd.conf), before anything is built; they go into the rescue image (ReaR:
prep/BACULA/default/400_prep_bacula.sh, 450_check_BACULA_client_configured.sh, 500_check_BACULA_bconsole_results.sh)."""

from __future__ import annotations

from rearbuild.backup.bacula import check, required_programs, settings
from rearbuild.context import Context


def main(ctx: Context) -> None:
    s = settings(ctx.settings)
    check(s)
    ctx.add("PROGS", *s.programs, *(["mt"] if s.bextract_device else []))
    ctx.add("REQUIRED_PROGS", *(s.program(p) for p in required_programs(s)))
    ctx.add("COPY_AS_IS", str(s.conf_dir), *s.copy)
    ctx.add("COPY_AS_IS_EXCLUDE", *s.copy_exclude)
