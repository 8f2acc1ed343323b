"""OUTPUT=CDROM builds the same rescue ISO as OUTPUT=ISO: this runs that recipe (one home for the ISO's settings);
850_burn_cdrom then writes it to CDROM_DEVICE."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recipe import Recipe, RecipeKind

ISO_RECIPE = "output/ISO/default/800_create_iso.py"


def main(ctx: Context) -> None:
    path = ctx.paths.share_dir / "recipes" / ISO_RECIPE
    RecipeKind.PYTHON.execute(Recipe(path, ISO_RECIPE, 800, RecipeKind.PYTHON), ctx)
