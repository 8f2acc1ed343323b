"""The two error types of rearbuild (pycdlib's model).

UserError is for everything a user can fix (bad input, missing tool, wrong device): the command line
prints its message and hint on one or two lines and exits 1, the traceback goes to the log only.
InternalError is a broken invariant: it is reported as a bug, with the path of the log.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix. `hint` says how."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InternalError(Exception):
    """An invariant of rearbuild itself was broken: a bug."""
