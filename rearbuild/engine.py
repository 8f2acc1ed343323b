"""Running a workflow: stages in order, each stage's recipes in their global order, with timings.

-s (simulate) prints the recipes and runs nothing; -S (step) asks before each recipe.
"""

from __future__ import annotations

import logging
import sys
import time

from rearbuild import recipe as recipes
from rearbuild.config import validate
from rearbuild.context import Context
from rearbuild.errors import UserError
from rearbuild.log import NOTICE, notice, timed
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
    # Before any work, and before the complaint about empty stages (a method without recipes has them): what prep's
    # checks would find (rearbuild.config.validate). -s lists them all, the refused variables too (its load left
    # them here: LoadRequest.lenient).
    recipes_dir, shipped = ctx.paths.share_dir / "recipes", str(ctx.paths.share_dir)
    problems = validate.variable_problems(ctx.settings, shipped) if ctx.options.simulate else []
    if any(stage.name == "prep" for stage, _ in stages):
        problems += validate.method_problems(ctx.settings, recipes_dir, backs_up=workflow.backs_up)
    if ctx.options.simulate:
        for problem in problems:
            print(f"# problem: {problem.message} (hint: {problem.hint})")
    validate.refuse(problems)
    if empty:
        raise UserError(
            f"workflow {workflow.value} cannot run: stage{'s' if len(empty) > 1 else ''} "
            f"{', '.join(empty)} {'have' if len(empty) > 1 else 'has'} no recipes (not implemented yet)",
            hint="see `rearbuild -s " + workflow.value + "` for what exists",
        )
    if ctx.options.simulate:
        _simulate_checks(stages, ctx)
        return
    try:
        _run_stages(stages, ctx)
    except BaseException:
        _run_exit_tasks(ctx)
        raise
    total = sum(t for name, t in ctx.timings if name.startswith("stage "))
    stage_times = [(name.removeprefix("stage "), t) for name, t in ctx.timings if name.startswith("stage ")]
    log.info("stage timings:\n%s", "\n".join(f"  stage {name}: {t:.1f} s" for name, t in stage_times))
    # a quiet workflow (checklayout from cron) says nothing when nothing happened; -v shows the line
    log.log(logging.INFO if workflow.quiet else NOTICE, "%s finished in %.1f s", workflow.value, total)


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
        # -v shows the stage timings once, as a table at the end; -d shows each stage as it starts and ends
        with timed(f"stage {stage.name}", file_only=not ctx.options.debug):
            for recipe in found:
                if ctx.options.step and not _ask(recipe.label):
                    log.info("skipped %s (-S)", recipe.label)
                    continue
                began = time.monotonic()
                with timed(f"recipe {recipe.label}", logging.DEBUG):
                    recipes.execute(recipe, ctx)
                ctx.timings.append((recipe.label, time.monotonic() - began))
        ctx.timings.append((f"stage {stage.name}", time.monotonic() - started))


# The stage whose recipes only check (ReaR's prep: "checks and preparations before anything is written"); -s runs
# it with SIMULATE=y and without a build area.
_CHECK_STAGE = "prep"


def _simulate_checks(stages: list[tuple[Stage, list[recipes.Recipe]]], ctx: Context) -> None:
    """-s: after the listing, the prep checks run; a failing one is the run's error (exit 1)."""
    checks = [recipe for stage, found in stages if stage.name == _CHECK_STAGE for recipe in found]
    for recipe in checks:
        with timed(f"check {recipe.label}", logging.DEBUG):
            recipes.execute(recipe, ctx)
    if checks:
        notice("the %d prep checks passed", len(checks))
