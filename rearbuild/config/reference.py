"""The documented variables of the shipped default.conf: name, default, doc comment and section.

default.conf is the reference users read (every variable with a comment above it); the man page and the shell
completion are generated from it here, so they cannot drift from what rearbuild reads. Each variable carries its
state: today every variable of default.conf is honoured; a table of ReaR's other variables (accepted and
irrelevant, refused) adds entries of the other states through the same type.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\+?=(.*)$")
# "# ---- Title -----": a section header of default.conf
_SECTION = re.compile(r"^#\s*-{3,}\s*(.*?)\s*-*\s*$")


class VariableState(enum.Enum):
    """What rearbuild does with a variable a configuration sets."""

    HONOURED = "honoured"  # read and acted on (defined in default.conf)
    ACCEPTED = "accepted"  # ReaR's, irrelevant to rearbuild: a notice, nothing else
    REFUSED = "refused"  # ReaR's, not supported: an error with what to do instead

    @property
    def heading(self) -> str:
        return {
            VariableState.HONOURED: "VARIABLES",
            VariableState.ACCEPTED: "VARIABLES ACCEPTED AND IGNORED",
            VariableState.REFUSED: "VARIABLES REFUSED",
        }[self]


@dataclass(frozen=True)
class VariableDoc:
    name: str
    default: str  # the right-hand side as written in default.conf (bash syntax)
    doc: str  # the comment above it, without the #s, lines joined
    section: str = ""
    state: VariableState = VariableState.HONOURED


def _assignments(lines: list[str]) -> Iterator[tuple[str, str, str, str]]:
    """(name, value, doc, section) per assignment; a comment block documents the assignments right below it."""
    doc: list[str] = []
    section = ""
    assigned = False
    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        index += 1
        if not line.strip():
            doc, assigned = [], False
            continue
        header = _SECTION.match(line)
        if header:
            section, doc = header[1], []
            continue
        if line.startswith("#"):
            if assigned:  # a comment right below an assignment starts the next variable's doc
                doc, assigned = [], False
            doc.append(line[1:].strip())
            continue
        match = _ASSIGNMENT.match(line)
        if not match:
            continue
        value = match[2]
        # an array written over several lines ends at the line closing it
        while value.lstrip().startswith("(") and value.count("(") > value.count(")") and index < len(lines):
            value += " " + lines[index].strip()
            index += 1
        assigned = True
        yield match[1], value.strip(), " ".join(doc), section


def read_reference(default_conf: Path) -> tuple[VariableDoc, ...]:
    """Every variable default.conf defines, in its order (the first definition of a name wins)."""
    seen: dict[str, VariableDoc] = {}
    for name, value, doc, section in _assignments(default_conf.read_text().splitlines()):
        seen.setdefault(name, VariableDoc(name, value, doc, section))
    return tuple(seen.values())


def by_state(variables: Iterable[VariableDoc]) -> dict[VariableState, list[VariableDoc]]:
    grouped: dict[VariableState, list[VariableDoc]] = {state: [] for state in VariableState}
    for variable in variables:
        grouped[variable.state].append(variable)
    return grouped
