"""OUTPUT=OBDR puts the same rescue ISO as OUTPUT=ISO on the tape: this runs that recipe (one home for the ISO's
settings); 840_write_tape then writes label, ISO and backup to TAPE_DEVICE. (A real file, not a symlink: a wheel
cannot hold symlinks, so a container build's recipes would differ from the host's, and so would the ISO.)"""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.recipe import Recipe, RecipeKind

ISO_RECIPE = "output/ISO/default/800_create_iso.py"


def main(ctx: Context) -> None:
    path = ctx.paths.share_dir / "recipes" / ISO_RECIPE
    RecipeKind.PYTHON.execute(Recipe(path, ISO_RECIPE, 800, RecipeKind.PYTHON), ctx)
