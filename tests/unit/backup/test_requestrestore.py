"""BACKUP=REQUESTRESTORE: nobody to answer stops before the disks are touched; the operator's answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rearbuild.backup.requestrestore import announce, request_restore
from rearbuild.errors import UserError
from rearbuild.recover.options import RecoverOptions


def _lines(*answers: str) -> Iterator[str]:
    yield from answers
    while True:
        yield ""  # end of input


def test_a_non_interactive_run_stops_in_verify(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="needs an operator"):
        announce(RecoverOptions.of(demo=str(tmp_path)), interactive=False)
    announce(RecoverOptions.of(plan=True), interactive=False)  # --plan needs nobody


def test_enter_on_an_empty_target_asks_again_then_goes_on(tmp_path: Path) -> None:
    target = tmp_path / "target"
    options = RecoverOptions.of(demo=str(target))
    answers = _lines("\n", "done\n")

    def read_line() -> str:
        line = next(answers)
        if line == "done\n":
            (target / "etc").mkdir()  # the operator restored something meanwhile
        return line

    request_restore(options, interactive=True, read_line=read_line)
    assert (target / "etc").is_dir()


@pytest.mark.parametrize(("answers", "message"), [(("abort\n",), "aborted by the operator"), ((), "no answer")])
def test_abort_and_end_of_input_stop_the_recovery(tmp_path: Path, answers: tuple[str, ...], message: str) -> None:
    lines = _lines(*answers)
    with pytest.raises(UserError, match=message):
        request_restore(RecoverOptions.of(demo=str(tmp_path / "t")), interactive=True, read_line=lambda: next(lines))
