"""Every ReaR 2.7 configuration variable and what rearbuild does with it: the one table `dump`, `help VARIABLE`
and the loader use.

The names are ReaR 2.7's (its usr/share/rear/conf/default.conf, set or documented there), kept with their states
in conf/rear-variables.tsv. A variable is in exactly one state:

- honoured: defined in rearbuild's conf/default.conf (a definition there wins over the table's row, so a branch
  that implements a variable only adds it to default.conf; its row is deleted later), or set by rearbuild itself;
- irrelevant: accepted, with a notice once per run, because it changes nothing rearbuild does;
- not yet / refused: a UserError naming file and line and what to do instead (silently ignoring it would build
  an image that does not do what the user asked for).

Names that are neither ReaR's nor rearbuild's are the user's own (their recipes may read them): a warning only.
"""

from __future__ import annotations

import enum
import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from rearbuild.errors import InternalError
from rearbuild.paths import default_share_dir

TABLE_FILE = "rear-variables.tsv"


class State(enum.Enum):
    HONOURED = "honoured"
    IRRELEVANT = "irrelevant"
    NOT_YET = "not-yet"
    REFUSED = "refused"
    UNKNOWN = "unknown"  # not a ReaR variable and not rearbuild's: the user's own

    @property
    def refuses(self) -> bool:
        """A non-empty value set by the user stops the run (naming file and line)."""
        return self in (State.NOT_YET, State.REFUSED)

    @property
    def label(self) -> str:
        return {
            State.HONOURED: "honoured",
            State.IRRELEVANT: "accepted, has no effect",
            State.NOT_YET: "refused: not implemented yet",
            State.REFUSED: "refused: not supported by rearbuild",
            State.UNKNOWN: "not a ReaR or rearbuild variable (only your own recipes can read it)",
        }[self]


@dataclass(frozen=True)
class Entry:
    name: str
    state: State
    # why, then after "; " what to do instead (for the hint)
    reason: str = ""

    @property
    def why(self) -> str:
        return self.reason.split("; ", 1)[0]

    @property
    def instead(self) -> str:
        parts = self.reason.split("; ", 1)
        return parts[1] if len(parts) > 1 else f"remove {self.name}"

    def describe(self) -> str:
        return f"{self.state.label}: {self.why}" if self.why else self.state.label


_ROW = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\t([a-z-]+)(?:\t(.*))?$")


@dataclass(frozen=True)
class Table:
    """The rows of conf/rear-variables.tsv: ReaR's name -> its entry."""

    rows: Mapping[str, Entry]

    @classmethod
    def parse(cls, text: str, source: str = TABLE_FILE) -> Table:
        rows: dict[str, Entry] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            match = _ROW.match(line)
            try:
                state = State(match.group(2)) if match else None
            except ValueError:
                state = None
            if match is None or state is None or state is State.UNKNOWN:
                raise InternalError(f"{source}:{number}: not NAME<TAB>STATE<TAB>REASON: {line!r}")
            if match.group(1) in rows:
                raise InternalError(f"{source}:{number}: {match.group(1)} has a second row")
            rows[match.group(1)] = Entry(match.group(1), state, match.group(3) or "")
        return cls(MappingProxyType(rows))

    @property
    def rear_names(self) -> frozenset[str]:
        return frozenset(self.rows)

    def entry(self, name: str, defined: frozenset[str]) -> Entry:
        """The state of `name`, given the names rearbuild's default.conf defines (and the framework sets)."""
        if name in defined:
            return Entry(name, State.HONOURED, "defined in rearbuild's conf/default.conf")
        return self.rows.get(name) or Entry(name, State.UNKNOWN)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.rows.values())


@functools.cache
def table(path: Path | None = None) -> Table:
    """The table rearbuild ships (read once); it is code's knowledge, so it comes from the package, not from a
    --share-dir that may carry only default.conf."""
    where = path or _shipped()
    return Table.parse(where.read_text(), str(where))


def _shipped() -> Path:
    packaged = default_share_dir() / "conf" / TABLE_FILE
    image = os.environ.get("REARBUILD_SHARE_DIR")
    if not packaged.is_file() and image:
        # the rescue system runs rearbuild from a zipapp: the shipped data is in the image's share directory,
        # which its `rear` wrapper names (rearbuild.build.generated)
        return Path(image) / "conf" / TABLE_FILE
    return packaged


# The doc comment of a variable in default.conf: the comment block above its assignment (lines of other
# assignments in between are skipped: UKI_SIGN_CERT shares UKI_SIGN_KEY's comment).
def documentation(default_conf_text: str, name: str) -> str | None:
    lines = default_conf_text.splitlines()
    assign = re.compile(rf"^(?:declare\s+(?:-\w+\s+)*|export\s+)?{re.escape(name)}(?:\[[^]]*\])?\+?=")
    for index, line in enumerate(lines):
        if not assign.match(line):
            continue
        comment: list[str] = []
        above = index - 1
        while above >= 0 and lines[above].strip() and not lines[above].startswith("#"):
            above -= 1  # another assignment, or a continuation line of one
        while above >= 0 and lines[above].startswith("#") and not lines[above].startswith("# ----"):
            comment.insert(0, lines[above].lstrip("#").strip())
            above -= 1
        return "\n".join(comment)
    return None
