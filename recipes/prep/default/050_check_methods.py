"""OUTPUT and BACKUP must name methods rearbuild has (ReaR: prep/default/035/036_valid_*_methods.sh): a method
is valid when recipes/output/$OUTPUT (recipes/restore/$BACKUP) exists. Checked first, before any work."""

from __future__ import annotations

from rearbuild.context import Context
from rearbuild.errors import UserError


def main(ctx: Context) -> None:
    recipes = ctx.paths.share_dir / "recipes"
    checks = [("OUTPUT", "output")]
    if ctx.options.workflow.backs_up:
        checks.append(("BACKUP", "restore"))
    for name, stage in checks:
        value = ctx.text(name)
        if len(value.split()) > 1:  # ReaR's OUTPUT and BACKUP are one word each (prep/default/035, 036)
            raise UserError(f"{ctx.config.where(name)}: {name}={value!r} names several methods; ReaR takes one",
                            hint="run once per method, e.g. OUTPUT=ISO, then rearbuild -C pxe.conf image")  # fmt: skip
        if not value or not (recipes / stage / value).is_dir():
            known = (
                sorted(p.name for p in (recipes / stage).iterdir() if p.is_dir() and p.name.isupper())
                if (recipes / stage).is_dir()
                else []
            )
            raise UserError(
                f"{ctx.config.where(name)}: {name}={value!r} is not a method rearbuild has",
                hint=f"choose one of: {', '.join(known) or '(none yet)'}",
            )
