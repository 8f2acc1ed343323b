"""The words of one disklayout.conf line: checked positional fields and key=value options.

Each record specification (`rearbuild.layout.spec`) parses and writes its line with these. A key=value
option is declared once as an `Opt` (its key, the record field it fills, how its text is read and
written), and that one declaration serves both directions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rearbuild.layout.model import Option
from rearbuild.layout.partitions import LabelType


class FieldError(Exception):
    """What is wrong with one line; the reader adds file and line number."""


# ASCII digits only: Python's int() also reads "１２" (full-width), "+5", " 5" and "1_000", none of which
# ReaR, sfdisk or LVM would read as the same number.
_WHOLE = re.compile(r"-?[0-9]+")


def is_whole(value: str) -> bool:
    """Whether `value` is a whole number written in ASCII digits (an optional leading minus)."""
    return _WHOLE.fullmatch(value) is not None


def to_int(value: str, what: str) -> int:
    if not is_whole(value):
        raise FieldError(f"{what} {value!r} is not a whole number (ASCII digits)")
    return int(value)


def bytes_suffix(value: str, what: str) -> int:
    """A size LVM printed with `--units b`: digits with a `b` suffix (the suffix is optional here)."""
    return to_int(value.removesuffix("b").removesuffix("B"), what)


def label(value: str) -> LabelType:
    try:
        return LabelType(value)
    except ValueError:
        names = ", ".join(t.value for t in LabelType)
        raise FieldError(f"partition label type {value!r} is not one of {names}") from None


def positional(words: Sequence[str], low: int, high: int | None, name: str) -> None:
    """Check the number of values after the keyword."""
    n = len(words)
    if n < low or (high is not None and n > high):
        if high is None:
            need = f"at least {low}"
        elif high == low:
            need = str(low)
        elif high == low + 1:
            need = f"{low} or {high}"
        else:
            need = f"{low} to {high}"
        raise FieldError(f"{name} record needs {need} fields, found {n}")


def _keyvalues(words: Iterable[str], sep: str) -> Iterator[Option]:
    for word in words:
        key, found, value = word.partition(sep)
        if not found or not key:
            raise FieldError(f"{word!r} is not a key{sep}value option")
        yield key, value


def _text(value: str, key: str) -> str:
    return value


@dataclass(frozen=True)
class Opt:
    """One key=value option: written as `<key><sep><encode(value)>` when the field is not None."""

    key: str
    # The record field it fills (the key itself where that is a valid name).
    field: str
    # (text, key) -> value; raises FieldError naming the key.
    decode: Callable[[str, str], Any] = _text
    encode: Callable[[Any], str] = str


def opt(key: str, field: str | None = None) -> Opt:
    """A text option."""
    return Opt(key, field or key)


def int_opt(key: str, field: str | None = None) -> Opt:
    """A whole-number option."""
    return Opt(key, field or key, to_int)


class Options:
    """key=value options of one line, taken one by one; the rest are kept as extras in file order."""

    def __init__(self, words: Iterable[str], sep: str = "=") -> None:
        self._items = list(_keyvalues(words, sep))

    def take(self, key: str) -> str | None:
        for i, (k, v) in enumerate(self._items):
            if k == key:
                del self._items[i]
                return v
        return None

    def take_all(self, opts: Sequence[Opt]) -> dict[str, Any]:
        """The record fields of the declared options, None for an option the line does not have."""
        values: dict[str, Any] = {}
        for o in opts:
            text = self.take(o.key)
            values[o.field] = None if text is None else o.decode(text, o.key)
        return values

    def rest(self) -> tuple[Option, ...]:
        return tuple(self._items)


def format_opts(record: object, opts: Sequence[Opt], extra: tuple[Option, ...], sep: str = "=") -> list[str]:
    """The declared options the record has, in declaration order, then its extras in file order."""
    words = []
    for o in opts:
        value = getattr(record, o.field)
        if value is not None:
            words.append(f"{o.key}{sep}{o.encode(value)}")
    return [*words, *(f"{k}{sep}{v}" for k, v in extra)]
