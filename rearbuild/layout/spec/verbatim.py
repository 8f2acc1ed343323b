"""The records kept word for word: smartarray, logicaldrive, opaldisk, dasd_channel, and unknown keywords.

The model has no typed fields for them; the ones ReaR recreates are still components of the dependency
graph, named `<keyword>:<first field>` as ReaR names them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rearbuild.errors import InternalError
from rearbuild.layout.model import Keyword, Verbatim
from rearbuild.layout.spec.base import Edge, Group, Neighbours, RecordSpec


def _write(record: Verbatim) -> list[str]:
    return [record.word, *record.fields]


def _parser(keyword: Keyword) -> Callable[[list[str]], Verbatim]:
    def parse(w: list[str]) -> Verbatim:
        return Verbatim(keyword.value, tuple(w))

    return parse


def _named(keyword: Keyword) -> Callable[[Verbatim], str | None]:
    def component(record: Verbatim) -> str | None:
        return f"{keyword.value}:{record.fields[0]}" if record.fields else None

    return component


def _verbatim(keyword: Keyword, format_line: str, component: bool = True) -> RecordSpec[Verbatim]:
    return RecordSpec[Verbatim](
        keyword,
        parse=_parser(keyword),
        write=_write,
        comments=(format_line,),
        verbatim=True,
        component=_named(keyword) if component else lambda r: None,
    )


def _logicaldrive_edges(name: str, record: Verbatim, around: Neighbours) -> Iterator[Edge]:
    # The second field is <slot nr>|<array name>|<logical drive name>: the drive is made on that array.
    if len(record.fields) > 1:
        slot = record.fields[1].split("|")[0]
        if f"smartarray:{slot}" in around.names:
            yield name, f"smartarray:{slot}"


SMARTARRAY = _verbatim(Keyword.SMARTARRAY, "# Format: smartarray <slot number>")
LOGICALDRIVE = RecordSpec[Verbatim](
    Keyword.LOGICALDRIVE,
    parse=_parser(Keyword.LOGICALDRIVE),
    write=_write,
    comments=(
        "# Format: logicaldrive <device> <slot nr>|<array name>|"
        "<logical drive name> raid=<raid level> drives=<drive1,drive2> [spares=<spare1,spare2>] "
        "[sectors=<sectors>] [stripesize=<stripesize>]",
    ),
    verbatim=True,
    component=_named(Keyword.LOGICALDRIVE),
    edges=_logicaldrive_edges,
)
OPALDISK = _verbatim(Keyword.OPALDISK, "# Format: opaldisk <device> [boot=<[yn]>] [password=<password>]")
DASD_CHANNEL = _verbatim(Keyword.DASD_CHANNEL, "# Format: dasd_channel <bus-id> <device name>", component=False)


def _unknown_group(record: Verbatim) -> Group:
    # No comment: we do not know the format of a keyword no ReaR version we know writes.
    return ("verbatim", record.word), ()


def _not_parsed(w: list[str]) -> Verbatim:
    raise InternalError("a line with an unknown keyword is read as Verbatim(word, fields) by the reader")


UNKNOWN = RecordSpec[Verbatim](None, parse=_not_parsed, write=_write, grouping=_unknown_group, verbatim=True)
