"""The one family of errors that input can cause.

Every problem with a file, a name or a request that a user can fix is an
:class:`InputError`. The CLI turns it into one line on stderr and exit code 2;
anything else that escapes is a bug in symbackprop.
"""
from __future__ import annotations


class InputError(ValueError):
    """A problem in user input, located by file and place.

    >>> str(InputError("bad number", place="network.layers[0].bias", source="net.toml"))
    'net.toml: network.layers[0].bias: bad number'
    """

    def __init__(self, problem: str, *, place: str = "", source: str = "") -> None:
        self.problem = problem
        self.place = place
        self.source = source
        super().__init__(problem)

    def located(self, source: str) -> "InputError":
        """The same error, naming the file it came from (when it does not already)."""
        return InputError(self.problem, place=self.place, source=self.source or source)

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.place, self.problem) if part)
