"""Read and write ReaR's disklayout.conf (study §2.1, §2.2, §2.5).

The writer emits ReaR's current format: the header, then every record with the `# Format:` comment lines
ReaR prints before each group, excluded records as `#keyword ...`. The group comments are not stored in the
model: they are regenerated from the record sequence, so write(read(text)) == text for our own files. How
each keyword's line is read and written, and its group comments, is that keyword's record specification
(`rearbuild.layout.spec`).

The reader also takes the older variants ReaR wrote: lvmvol in extents and sectors, ext reserved_blocks as
a block count, crypt without type=, the `raid` keyword before PR #2800, part lines without the trailing
PARTUUID. Records with a keyword we do not know are kept verbatim; `unsupported()` lists them so that the
caller can refuse to save a layout nothing knows how to recreate.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from rearbuild.errors import UserError
from rearbuild.layout.model import Entry, Item, Keyword, Layout, Note, Record, Verbatim
from rearbuild.layout.spec.fields import FieldError
from rearbuild.layout.spec.registry import GENERATED_PREFIXES, SPECS, spec_of

DEFAULT_NAME = "disklayout.conf"


# ---------------------------------------------------------------------------------------------------------
# Writing


def format_record(record: Record) -> str:
    """One record as its disklayout.conf line (without a leading `#`)."""
    return " ".join(spec_of(record).write(record))


def format_layout(layout: Layout) -> str:
    """The whole file: header, group comments, records; excluded records commented out."""
    lines: list[str] = list(layout.header)
    current: tuple[str, ...] | None = None
    for item in layout.items:
        if isinstance(item, Note):
            lines.append(item.text)
            continue
        key, comments = spec_of(item.record).group(item.record)
        if key != current:
            lines.extend(comments)
            current = key
        text = format_record(item.record)
        lines.append("#" + text if item.excluded else text)
    return "".join(line + "\n" for line in lines)


def write_layout(layout: Layout, path: Path) -> None:
    path.write_text(format_layout(layout), encoding="utf-8")


def header_lines(stamp: str, lsblk_output: str) -> tuple[str, ...]:
    """ReaR's header: the date line (stamp is YYYYmmddHHMMSS, passed in so the output is reproducible)
    and the lsblk listing, each line behind `# `."""
    return (
        f"# Disk layout dated {stamp} (YYYYmmddHHMMSS)",
        *(f"# {line}" for line in lsblk_output.splitlines()),
    )


# ---------------------------------------------------------------------------------------------------------
# Reading


def parse_record(text: str) -> Record:
    """Parse one record line (without a leading `#`). Raises ValueError saying what is wrong."""
    words = text.split()
    if not words:
        raise ValueError("empty record")
    keyword = Keyword.lookup(words[0])
    if keyword is None:
        return Verbatim(words[0], tuple(words[1:]))
    try:
        record: Record = SPECS[keyword].parse(words[1:])
        return record
    except FieldError as exc:
        raise ValueError(str(exc)) from None


def _commented_record(line: str) -> Record | None:
    """`#keyword ...` (no blank after `#`, study §2.1) with a known keyword; None for other comments."""
    body = line[1:]
    if not body or body[0].isspace():
        return None
    if Keyword.lookup(body.split()[0]) is None:
        return None
    try:
        return parse_record(body)
    except ValueError:
        # A commented-out line is not binding; one we cannot parse stays a plain comment.
        return None


def parse_layout(text: str, source: str = DEFAULT_NAME) -> Layout:
    """Parse the text of a disklayout.conf; `source` names the file in error messages."""
    header: list[str] = []
    items: list[Item] = []
    in_header = True
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            record = _commented_record(line)
            if record is not None:
                items.append(Entry(record, excluded=True, line=number))
                in_header = False
            elif line.startswith(GENERATED_PREFIXES):
                # A group comment: the writer regenerates it from the records.
                in_header = False
            elif in_header:
                header.append(line)
            else:
                items.append(Note(line))
            continue
        if not line.strip():
            if in_header:
                header.append(line)
            else:
                items.append(Note(line))
            continue
        in_header = False
        if line[0].isspace():
            raise _error(source, number, line, "a record must start at the beginning of the line")
        try:
            record = parse_record(line)
        except ValueError as exc:
            raise _error(source, number, line, str(exc)) from None
        items.append(Entry(record, line=number))
    return Layout(items=tuple(items), header=tuple(header), source=source)


def _error(source: str, number: int, line: str, what: str) -> UserError:
    return UserError(
        f"{source}:{number}: {what}: {line.strip()!r}",
        hint=f"correct line {number} of {source} (see the '# Format:' comment of that record type), "
        "or re-run `rearbuild savelayout` to write the file anew",
    )


def read_layout(path: Path) -> Layout:
    """Read a disklayout.conf file."""
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise UserError(
            f"cannot read the disk layout {path}: {exc.strerror}",
            hint="run `rearbuild savelayout` to create it",
        ) from exc
    return parse_layout(text, source=str(path))


# ---------------------------------------------------------------------------------------------------------
# What nothing can recreate


@dataclass(frozen=True)
class Unsupported:
    """An active record no generator can recreate, and why."""

    entry: Entry
    reason: str

    def describe(self, source: str = DEFAULT_NAME) -> str:
        where = f"{source}:{self.entry.line}: " if self.entry.line is not None else ""
        return f"{where}{self.reason}: {format_record(self.entry.record)!r}"


def unsupported(layout: Layout, creatable: Collection[Keyword] | None = None) -> tuple[Unsupported, ...]:
    """Active records with an unknown keyword, or (when `creatable` is given) a keyword not in it."""
    found: list[Unsupported] = []
    for entry in layout.entries:
        if entry.excluded:
            continue
        keyword = entry.record.keyword
        if keyword is None:
            word = entry.record.word if isinstance(entry.record, Verbatim) else "?"
            found.append(Unsupported(entry, f"unknown keyword {word!r}"))
        elif creatable is not None and keyword not in creatable:
            found.append(Unsupported(entry, f"no code recreates a {keyword.value} record"))
    return tuple(found)


def require_supported(layout: Layout, creatable: Collection[Keyword] | None = None) -> None:
    """Raise a UserError listing every active record that could not be recreated."""
    problems = unsupported(layout, creatable)
    if problems:
        listing = "; ".join(p.describe(layout.source) for p in problems)
        raise UserError(
            f"the disk layout has components that cannot be recreated: {listing}",
            hint="exclude them with EXCLUDE_RECREATE (or comment the lines out) if the recovery does not need them",
        )
