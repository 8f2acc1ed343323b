"""rearbuild(8), generated: the options from the command line's parser, the workflows from rearbuild.workflow and
the variables from the variable reference (default.conf's doc comments, rearbuild.config.reference).

The output is man(7) roff, rendered by `man -l` or installed as man8/rearbuild.8 (ReaR's page is rear(8)).
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterable, Sequence

from rearbuild.config.reference import VariableDoc, by_state
from rearbuild.workflow import Workflow


def roff(text: str) -> str:
    """Text safe in a roff line: backslashes escaped, hyphens literal, no line starting a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def _option_label(action: argparse.Action) -> str:
    names = ", ".join(f"\\fB{roff(s)}\\fR" for s in action.option_strings)
    if action.metavar and action.nargs != 0:
        names += f" \\fI{roff(str(action.metavar))}\\fR"
    return names


def _options(parser: argparse.ArgumentParser) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:  # argparse keeps no public list; its help formatter reads the same one
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        lines += [".TP", _option_label(action), roff(action.help or "")]
    return lines


def _workflows(workflows: Iterable[Workflow]) -> list[str]:
    lines: list[str] = []
    for workflow in workflows:
        lines += [".TP", f"\\fB{roff(workflow.value)}\\fR", roff(workflow.description)]
    return lines


def _variables(variables: Sequence[VariableDoc]) -> list[str]:
    lines: list[str] = []
    section = None
    for variable in variables:
        if variable.section and variable.section != section:
            section = variable.section
            lines += [".SS", roff(section)]
        lines += [".TP", f"\\fB{roff(variable.name)}\\fR=\\fI{roff(variable.default)}\\fR"]
        lines.append(roff(variable.doc) if variable.doc else "(no description)")
    return lines


def render(
    parser: argparse.ArgumentParser,
    workflows: Iterable[Workflow],
    variables: Sequence[VariableDoc],
    *,
    version: str,
    date: datetime.date,
) -> str:
    lines = [
        f'.TH REARBUILD 8 "{date.isoformat()}" "rearbuild {roff(version)}" "System Administration"',
        ".SH NAME",
        "rearbuild \\- Relax\\-and\\-Recover compatible disaster recovery, built as a rescue\\-image factory",
        ".SH SYNOPSIS",
        "\\fBrearbuild\\fR [\\fIOPTIONS\\fR] \\fIWORKFLOW\\fR [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
        "rearbuild collects what a recovery of this machine needs, builds a bootable rescue system from it and, in "
        "that rescue system, recovers the machine. It reads ReaR's configuration: /etc/rear/local.conf and "
        "site.conf, in bash syntax, with ReaR's variables and workflows.",
        ".PP",
        "\\fBrearbuild WORKFLOW \\-\\-help\\fR shows a workflow's own arguments.",
        ".SH OPTIONS",
        *_options(parser),
        ".SH WORKFLOWS",
        *_workflows(workflows),
    ]
    for state, members in by_state(variables).items():
        if not members:
            continue
        lines += [".SH", state.heading]
        if state.heading == "VARIABLES":
            lines += [
                "Every variable rearbuild reads, with its default as the shipped default.conf sets it. Set them "
                "in /etc/rear/local.conf; \\fBrearbuild dump\\fR shows each effective value and the file that "
                "set it.",
            ]
        lines += _variables(members)
    lines += [
        ".SH FILES",
        ".TP",
        "/etc/rear/local.conf, /etc/rear/site.conf",
        "the configuration (bash)",
        ".TP",
        "/var/lib/rear/layout/disklayout.conf",
        "the saved disk layout (savelayout, checklayout)",
        ".TP",
        "/var/lib/rear/output/",
        "the rescue images",
        ".TP",
        "/var/log/rear/",
        "one log file per run",
        ".SH EXIT STATUS",
        "0 on success; 1 on an error the user can fix (one line and a hint), and from \\fBchecklayout\\fR when the "
        "layout changed; 2 on a bug; 130/143 when interrupted.",
        ".SH EXAMPLES",
        "Rebuild the rescue image only when the disk layout changed (what the installed timer runs):",
        ".PP",
        ".RS",
        "rearbuild checklayout || rearbuild mkrescue",
        ".RE",
        ".SH SEE ALSO",
        "\\fBrear\\fR(8), https://relax\\-and\\-recover.org/",
    ]
    return "\n".join(lines) + "\n"
