"""Running a workflow (rearbuild.engine): -s lists the recipes and runs nothing; a required stage without recipes
fails the workflow before anything runs."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import RearEnv

Run = Callable[..., tuple[int, str, str]]


def test_simulate_runs_nothing_and_missing_stage_fails(rear_env: RearEnv, rearbuild: Run) -> None:
    rear_env.write(
        "share/recipes/prep/default/100_touch.py",
        "def main(ctx):\n    (ctx.paths.var_dir / 'ran').write_text('x')\n",
    )
    status, out, err = rearbuild("-s", "mkrescue")
    assert status == 1
    assert "prep/default/100_touch.py" in out
    assert "layout/save, rescue, build, pack, output have no recipes" in err
    assert not (rear_env.var_dir / "ran").exists()
    # without -s the workflow refuses before running anything: no pretended success
    status, out, err = rearbuild("mkrescue")
    assert status == 1 and not (rear_env.var_dir / "ran").exists()
