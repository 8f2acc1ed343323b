"""The effective configuration: every variable with its value and the file that set it last.

Config is frozen. Reading a variable that default.conf does not define is an InternalError: default.conf is the
reference of every variable the project uses (the seed's rule), and this makes the rule enforceable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from rearbuild.config.bashstate import Value, line_of_assignment
from rearbuild.errors import InternalError, UserError

# ReaR's is_true / is_false (lib/global-functions.sh): the words a user may write for yes and no.
_TRUE_WORDS = frozenset({"y", "yes", "true", "1", "on", "ja", "j", "si", "oui", "t"})
_FALSE_WORDS = frozenset({"n", "no", "false", "0", "off", "nein", "f"})

# Names whose values are secrets: masked in `dump` unless -e, never written to logs (ReaR's SECRET_VARIABLES idea).
_SECRET_RE = re.compile(r"(PASSWORD|PASSPHRASE|_PASS$|SECRET|TOKEN|CRYPT_KEY|_KEY$|_PSK$)")


def truth(word: str) -> bool | None:
    """True for a yes-word, False for a no-word, None for anything else (empty included): ReaR's is_true and
    is_false, the one place rearbuild reads yes and no."""
    word = word.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


def is_secret(name: str) -> bool:
    return bool(_SECRET_RE.search(name))


@dataclass(frozen=True)
class Setting:
    name: str
    value: Value
    origin: str

    @property
    def is_array(self) -> bool:
        return not isinstance(self.value, str)


@dataclass(frozen=True)
class Config:
    """Read-only view of the effective configuration."""

    settings: Mapping[str, Setting]
    files: tuple[str, ...] = ()
    known: frozenset[str] = field(default_factory=frozenset)
    # Variables rearbuild itself sets (CONFIG_DIR, HOSTNAME, the detected OS_* ...): honoured, not in default.conf.
    framework: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        values: Mapping[str, Value],
        origins: Mapping[str, str],
        *,
        files: tuple[str, ...] = (),
        known: frozenset[str] = frozenset(),
        framework: frozenset[str] = frozenset(),
    ) -> Config:
        settings = {n: Setting(n, v, origins.get(n, "<unknown>")) for n, v in sorted(values.items())}
        return cls(MappingProxyType(settings), files, known, framework)

    def __contains__(self, name: object) -> bool:
        return name in self.settings

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.settings.values())

    def _get(self, name: str) -> Setting:
        try:
            return self.settings[name]
        except KeyError:
            raise InternalError(f"configuration variable {name} is not defined in default.conf") from None

    def origin(self, name: str) -> str:
        return self._get(name).origin

    def where(self, name: str) -> str:
        """The file and line that set `name` last ("local.conf:12"), for messages that must point at it."""
        origin = self.origin(name)
        path = Path(origin)
        line = line_of_assignment(path, name) if origin.startswith("/") and path.is_file() else None
        return f"{origin}:{line}" if line else origin

    def text(self, name: str) -> str:
        """The value as one string; an array reads as bash's "${NAME[*]}"."""
        value = self._get(name).value
        if isinstance(value, str):
            return value
        return " ".join(v if isinstance(v, str) else v[1] for v in value)

    def items(self, name: str) -> tuple[str, ...]:
        """The value as a list: an array's elements, or a scalar split into words (ReaR accepts both)."""
        value = self._get(name).value
        if isinstance(value, str):
            return tuple(value.split())
        return tuple(v if isinstance(v, str) else v[1] for v in value)

    def elements(self, name: str) -> tuple[str, ...]:
        """bash's "${NAME[@]}": an array's elements, a non-empty scalar as one element (not split into words)."""
        value = self._get(name).value
        if isinstance(value, str):
            return (value,) if value else ()
        return self.items(name)

    def flag(self, name: str) -> bool:
        """True for ReaR's yes-words; empty and the no-words are false; anything else is an error."""
        return bool(self.tristate(name))

    def tristate(self, name: str) -> bool | None:
        """A yes-word, a no-word, or empty (None: rearbuild decides, ReaR's "automatic"); anything else is an
        error naming the file and line."""
        text = self.text(name)
        answer = truth(text)
        if answer is None and text.strip():
            raise UserError(
                f"{self.where(name)}: {name}={text!r} is neither yes nor no",
                hint=f"set {name} to y or n, or leave it empty to let rearbuild decide",
            )
        return answer

    def number(self, name: str) -> int:
        word = self.text(name).strip()
        try:
            return int(word)
        except ValueError:
            raise UserError(
                f"{name}={word!r} (set by {self.origin(name)}) is not a whole number",
                hint=f"set {name} to a number",
            ) from None

    def with_values(self, values: Mapping[str, Value], origin: str) -> Config:
        """A new Config with some values replaced (for run state that stages derive, e.g. rescue.conf)."""
        settings = dict(self.settings)
        for name, value in values.items():
            settings[name] = Setting(name, value, origin)
        return Config(MappingProxyType(dict(sorted(settings.items()))), self.files, self.known, self.framework)
