"""Running a workflow: stages in order, each stage's recipes in their global order, with timings.

-s (simulate) prints the recipes and runs nothing; -S (step) asks before each recipe.
"""

from __future__ import annotations

import logging
import sys
import time

from rearbuild import recipe as recipes
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import notice, timed
from rearbuild.url import Scheme
from rearbuild.workflow import Stage, Workflow

log = logging.getLogger("rearbuild.engine")


def plan(workflow: Workflow, ctx: Context) -> list[tuple[Stage, list[recipes.Recipe]]]:
    scheme = Scheme.of(ctx.text("BACKUP_URL"))
    backup_in_iso = scheme is not None and scheme.in_rescue_image and ctx.text("OUTPUT") == "ISO"
    in_container = workflow is Workflow.BUILD and bool(workflow.parse_arguments(ctx.options.args).container)
    return [
        (stage, recipes.discover(stage.name, ctx))
        for stage in workflow.stages(backup_in_iso=backup_in_iso, in_container=in_container)
    ]


def _ask(label: str) -> bool:
    sys.stderr.write(f"Press ENTER to run {label}, 's' to skip it, 'q' to abort: ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer == "q":
        raise UserError("aborted by the user (-S)")
    return answer != "s"


def execute(workflow: Workflow, ctx: Context) -> None:
    stages = plan(workflow, ctx)
    empty = [stage.name for stage, found in stages if stage.required and not found]
    if ctx.options.simulate:
        for stage, found in stages:
            for recipe in found:
                print(recipe.label)
            if stage.required and not found:
                print(f"# {stage.name}: nothing to run")
    if empty:
        raise UserError(
            f"workflow {workflow.value} cannot run: stage{'s' if len(empty) > 1 else ''} "
            f"{', '.join(empty)} {'have' if len(empty) > 1 else 'has'} no recipes (not implemented yet)",
            hint="see `rearbuild -s " + workflow.value + "` for what exists",
        )
    if ctx.options.simulate:
        return
    try:
        _run_stages(stages, ctx)
    except BaseException:
        _run_exit_tasks(ctx)
        raise
    total = sum(t for name, t in ctx.timings if name.startswith("stage "))
    notice("%s finished in %.1f s", workflow.value, total)


def _run_exit_tasks(ctx: Context) -> None:
    """ReaR's exit tasks after a failure: each runs, a failing one is logged and does not hide the cause."""
    while ctx.state.exit_tasks:
        name, task = next(iter(ctx.state.exit_tasks.items()))
        del ctx.state.exit_tasks[name]
        try:
            task()
        except Exception as exc:  # the workflow's own error is the one to report
            log.error("exit task %s failed: %s", name, exc)


def _run_stages(stages: list[tuple[Stage, list[recipes.Recipe]]], ctx: Context) -> None:
    for stage, found in stages:
        started = time.monotonic()
        with timed(f"stage {stage.name}"):
            for recipe in found:
                if ctx.options.step and not _ask(recipe.label):
                    log.info("skipped %s (-S)", recipe.label)
                    continue
                began = time.monotonic()
                with timed(f"recipe {recipe.label}", logging.DEBUG):
                    recipes.execute(recipe, ctx)
                ctx.timings.append((recipe.label, time.monotonic() - began))
        ctx.timings.append((f"stage {stage.name}", time.monotonic() - started))
