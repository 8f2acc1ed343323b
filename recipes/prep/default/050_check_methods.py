"""Before any work: OUTPUT and BACKUP name methods rearbuild has (ReaR: prep/default/035/036_valid_*_methods.sh; a
method is valid when recipes/output/$OUTPUT, recipes/restore/$BACKUP exist: an image whose recover could not
restore is refused for mkrescue too), OUTPUT_URL/BACKUP_URL are schemes rearbuild implements, and the programs
they and REQUIRED_PROGS name are here. The checks are rearbuild.config.validate's (`dump` and `-s` run them too)."""

from __future__ import annotations

from rearbuild.config.validate import method_problems, refuse
from rearbuild.context import Context


def main(ctx: Context) -> None:
    recipes = ctx.paths.share_dir / "recipes"
    refuse(method_problems(ctx.settings, recipes, backs_up=ctx.options.workflow.backs_up))
