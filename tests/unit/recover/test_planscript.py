"""The plan script's re-run semantics with real bash on harmless commands: a failure names its step, an
edited script runs again skipping what was done, and a changed step runs again."""

from __future__ import annotations

from pathlib import Path

import pytest

from rearbuild.errors import UserError
from rearbuild.layout.partitions import LabelType
from rearbuild.recover.plan import Command, Plan, Step, StepKind, TargetDisk
from rearbuild.recover.planscript import execute, steps_of, write


def touch_step(step_id: str, path: Path, *extra: Command) -> Step:
    return Step(step_id, f"fs:/{step_id}", StepKind.MKFS, f"make {path.name}",
                (Command(("touch", str(path))), *extra), destroys=(f"/dev/{step_id}",))  # fmt: skip


def test_failure_names_the_step_and_an_edited_script_continues(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    plan = Plan(
        steps=(
            touch_step("one", out / "1"),
            touch_step("two", out / "2", Command(("false",))),
            touch_step("three", out / "3"),
        ),
        disks=(TargetDisk("/dev/x", 1, LabelType.GPT),),
        target_root=str(tmp_path / "target"),
    )
    done = tmp_path / "done"
    script = write(plan, tmp_path / "diskrestore.sh", done)
    with pytest.raises(UserError, match=r"failed at step two \(make 2\)"):
        execute(script, done)
    assert (out / "1").exists() and (out / "2").exists() and not (out / "3").exists()
    assert [s.id for s in steps_of(script.read_text()) if s.done(done)] == ["one"]

    (out / "1").unlink()
    edited = tmp_path / "edited.sh"
    edited.write_text(script.read_text().replace("\nfalse\n", "\ntrue\n"))
    outcome = execute(edited, done)
    assert outcome.skipped == ("one",) and outcome.ran == ("two", "three")
    assert not (out / "1").exists() and (out / "3").exists()

    # Everything done: nothing runs again.
    assert execute(edited, done).ran == ()
    # A regenerated plan whose step changed runs that step again (its fingerprint differs).
    changed = Plan(steps=(touch_step("one", out / "1", Command(("true",))),), disks=(), target_root="/x")
    assert execute(write(changed, tmp_path / "again.sh", done), done).ran == ("one",)


def test_a_newline_in_a_path_or_description_stays_inside_its_comment(tmp_path: Path) -> None:
    """Paths (the layout's, the target) and step descriptions go into `#` lines of the script; a newline in one
    must not turn the rest into a command that runs when the plan runs."""
    out = tmp_path / "out"
    out.mkdir()
    evil = out / "evil"
    injected = f"\ntouch {evil}\n"
    step = Step("one", "fs:/one", StepKind.MKFS, f"make{injected}", (Command(("touch", str(out / "1"))),),
                destroys=(f"/dev/one{injected}",))  # fmt: skip
    plan = Plan(steps=(step,), disks=(TargetDisk("/dev/x", 1, LabelType.GPT),),
                target_root=str(tmp_path / f"target{injected}"),
                source=f"/etc/rear/disklayout.conf{injected}")  # fmt: skip
    done = tmp_path / "done"
    script = write(plan, tmp_path / "diskrestore.sh", done)
    execute(script, done)
    assert (out / "1").exists() and not evil.exists()
    assert [s.description for s in steps_of(script.read_text())] == [f"make\\x0atouch {evil}\\x0a"]
