"""`rearbuild help TOPIC`: a variable's meaning and default (from the variable reference), or a workflow's
description and arguments."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from rearbuild.config.reference import VariableDoc
from rearbuild.errors import UserError
from rearbuild.workflow import Workflow


def describe(topic: str, variables: Sequence[VariableDoc]) -> str:
    for variable in variables:
        if variable.name == topic:
            lines = [f"{variable.name}={variable.default}    (default; {variable.state.value})"]
            lines += [f"  {variable.doc}"] if variable.doc else []
            lines += [f"  section: {variable.section}"] if variable.section else []
            lines.append("  `rearbuild dump` shows the effective value and the file that set it")
            return "\n".join(lines) + "\n"
    for workflow in Workflow:
        if workflow.value == topic:
            return workflow.argument_parser().format_help()
    names = [v.name for v in variables] + [w.value for w in Workflow]
    close = difflib.get_close_matches(topic, names, n=3)
    raise UserError(
        f"no variable or workflow named {topic!r}",
        hint=("did you mean " + ", ".join(close) + "?") if close else "see `man rearbuild` for every variable",
    )
