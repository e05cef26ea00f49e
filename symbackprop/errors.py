"""The one family of errors that input can cause.

Every problem with a file, a name or a request that a user can fix is an
:class:`InputError`. The CLI turns it into one line on stderr and exit code 2;
anything else that escapes is a bug in symbackprop.
"""
from __future__ import annotations


def printable(text: str) -> str:
    r"""``text`` on one line: every control or invisible formatting character escaped.

    Text from a file (a key, a name, a title) reaches terminals and reports; a newline or an
    ANSI escape in it must not split a one-line message or clear a screen.

    >>> print(printable("a\nb\x1b[2J\u202e"))
    a\nb\x1b[2J\u202e
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


class InputError(ValueError):
    r"""A problem in user input, located by file and place.

    >>> str(InputError("bad number", place="network.layers[0].bias", source="net.toml"))
    'net.toml: network.layers[0].bias: bad number'
    >>> str(InputError("unknown key", place="a\nb"))          # always one line
    'a\\nb: unknown key'
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
        return ": ".join(printable(part) for part in (self.source, self.place, self.problem) if part)


def whole_number(value: object, low: int, high: int, name: str) -> int:
    """``value`` when it is a whole number in [low, high]; otherwise an :class:`InputError` saying so.

    >>> whole_number(5, 1, 30, "places")
    5
    >>> whole_number(0, 1, 30, "places")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: places: must be a whole number from 1 to 30, not 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"must be a whole number from {low} to {high}, not {printable(repr(value))[:40]}", place=name)
    return value


def did_you_mean(name: str, known, quote: bool = False) -> str:
    """``; did you mean w5?`` for a name that differs from a known one in case or spelling, else "".

    >>> did_you_mean("W5", ["w5", "w6"]), did_you_mean("activaton", ["activation"], quote=True), did_you_mean("zz", ["w1"])
    ('; did you mean w5?', "; did you mean 'activation'?", '')
    """
    import difflib

    folded = {str(candidate).casefold(): str(candidate) for candidate in known}
    spelled = name.casefold()
    close = [spelled] if spelled in folded else difflib.get_close_matches(spelled, list(folded), n=1, cutoff=0.75)
    if not close:
        return ""
    meant = folded[close[0]]
    return f"; did you mean {meant!r}?" if quote else f"; did you mean {meant}?"


class UncertifiedDigits(ValueError):
    """Numbers that exist but whose digits could not be proved (a ball holds more than one rounding, a ball
    that holds 0 is not proved to be 0, or a branch sits in the rounding noise): refused, never printed. The CLI
    exits 1 with this one line."""


class UndefinedValue(InputError):
    """A value with no real, finite number at these numbers: a log of 0 or of a negative number, a division
    by 0, the infinite slope of sqrt at 0, 0 to a negative power. One line naming where, exit 2."""
