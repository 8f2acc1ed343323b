"""Questions before destroying data: presets win, unattended says yes, nobody to answer is an error."""

from __future__ import annotations

import pytest

from rearbuild.errors import UserError
from rearbuild.recover.questions import Answers, Question


@pytest.mark.parametrize(("preset", "answer"), [("yes", True), ("confirm", True), ("on", True), ("no", False),
                                                ("later", False)])  # fmt: skip
def test_a_preset_answers_even_an_unattended_run(preset: str, answer: bool) -> None:
    answers = Answers({Question.WIPE_DISKS_CONFIRMATION: preset}, unattended=True)
    assert answers.confirm(Question.WIPE_DISKS_CONFIRMATION, "Wipe?") is answer
    assert answers.confirm(Question.LAYOUT_CODE_CONFIRMATION, "Run the plan?") is True  # no preset: unattended


def test_nobody_to_answer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(UserError, match="USER_INPUT_WIPE_DISKS_CONFIRMATION=yes"):
        Answers().confirm(Question.WIPE_DISKS_CONFIRMATION, "Wipe?")
