"""Exact numbers from text, and decimal text from numbers.

A decimal string in a file is an exact rational: ``"0.1"`` is 1/10, never the
float nearest to it. Parsing is done by hand with a regular expression so that
no text from a file is ever handed to ``sympify`` or ``eval``; magnitudes are
bounded so that ``1e1000000000`` is refused at once instead of hanging.
"""
from __future__ import annotations

import decimal
import functools
import math
import re
from fractions import Fraction

import mpmath
import sympy


#: Largest accepted decimal exponent (after normalisation) of a number in a file.
MAX_EXPONENT = 60
#: Most significant digits accepted in one number in a file.
MAX_DIGITS = 80
#: A computed value of this many integer digits or more is written in scientific form (e^(2·10⁶) has 868,589).
LARGEST_PLAIN = 16

_MINUS_SIGNS = "\u2212\u2012\u2013\u2014\ufe63\uff0d"  # − ‒ – — ﹣ －: minus signs pasted from web pages
# ASCII digits only: int() would also read Arabic-Indic or full-width digits, which no tutorial means.
_DECIMAL = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]+))?"
)
_FRACTION = re.compile(r"(?P<num>[+-]?[0-9]+) */ *(?P<den>[0-9]+)")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")


class NumberError(ValueError):
    """A string that is not an exact number we accept; the message says why."""


def parse_exact(text: str) -> Fraction:
    """Parse a decimal (or ``p/q``) string into an exact :class:`~fractions.Fraction`.

    >>> parse_exact("0.15")
    Fraction(3, 20)
    >>> parse_exact("\u22120.5")          # Unicode minus, as copied from a web page
    Fraction(-1, 2)
    >>> parse_exact("1.5e-3")
    Fraction(3, 2000)
    >>> parse_exact("2/6")
    Fraction(1, 3)
    >>> parse_exact("0,5")
    Traceback (most recent call last):
    ...
    symbackprop.numbers.NumberError: '0,5' has a decimal comma; write a decimal point: '0.5'
    """
    if not isinstance(text, str):
        raise NumberError(f"expected a string, got {type(text).__name__}")
    if len(text) > 200:
        raise NumberError("number is too long (over 200 characters)")
    cleaned = text.strip().replace("_", "")
    for minus in _MINUS_SIGNS:
        cleaned = cleaned.replace(minus, "-")
    if _DECIMAL_COMMA.fullmatch(cleaned):
        raise NumberError(
            f"{text!r} has a decimal comma; write a decimal point: {cleaned.replace(',', '.')!r}"
        )
    fraction = _FRACTION.fullmatch(cleaned)
    if fraction:
        denominator = int(fraction["den"])
        if denominator == 0:
            raise NumberError(f"{text!r} divides by zero")
        if len(fraction["num"]) > MAX_DIGITS or len(fraction["den"]) > MAX_DIGITS:
            raise NumberError(f"{text!r} has more than {MAX_DIGITS} digits")
        value = Fraction(int(fraction["num"]), denominator)
        if value and not Fraction(1, 10**MAX_EXPONENT) <= abs(value) <= 10**MAX_EXPONENT:
            raise NumberError(f"{text!r} is out of range (magnitude beyond 1e\u00b1{MAX_EXPONENT})")
        return value
    match = _DECIMAL.fullmatch(cleaned)
    if not match or not (match["int"] or match["frac"]):
        lowered = cleaned.lower().lstrip("+-")
        if lowered in ("nan", "inf", "infinity"):
            raise NumberError(f"{text!r} is not a finite number")
        raise NumberError(f"{text!r} is not a number")
    digits = (match["int"] or "") + (match["frac"] or "")
    significant = digits.lstrip("0")
    if len(significant) > MAX_DIGITS:
        raise NumberError(f"{text!r} has more than {MAX_DIGITS} significant digits")
    exp_text = match["exp"] or "0"
    if len(exp_text.lstrip("+-").lstrip("0")) > 4:
        raise NumberError(f"{text!r} is out of range (exponent too large)")
    exponent = int(exp_text) - len(match["frac"] or "")
    if not significant:
        return Fraction(0)
    magnitude = exponent + len(significant)  # power of ten just above the value
    if magnitude > MAX_EXPONENT or magnitude < -MAX_EXPONENT:
        raise NumberError(f"{text!r} is out of range (magnitude beyond 1e\u00b1{MAX_EXPONENT})")
    value = Fraction(int(significant)) * Fraction(10) ** exponent
    return -value if match["sign"] == "-" else value


def exact_from_toml(value: object) -> Fraction:
    """An exact number from a TOML value: a decimal string, an integer or a float.

    A TOML float is taken as the decimal it was written as (its shortest repr),
    so ``0.1`` means 1/10.

    >>> exact_from_toml(0.1), exact_from_toml(3), exact_from_toml("0.25")
    (Fraction(1, 10), Fraction(3, 1), Fraction(1, 4))
    """
    if isinstance(value, bool):
        raise NumberError(f"expected a number, got a boolean ({str(value).lower()})")
    if isinstance(value, TomlFloat):
        return parse_exact(value.text)  # the float as written in the file, every digit kept
    if isinstance(value, int):
        if value.bit_length() > 4 * MAX_DIGITS:
            raise NumberError(f"an integer of about {int(value.bit_length() * 0.30103)} digits is out of range "
                              f"(magnitude beyond 1e\u00b1{MAX_EXPONENT})")
        return parse_exact(str(value))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise NumberError(f"{value} is not a finite number")
        return parse_exact(repr(value))
    if isinstance(value, str):
        return parse_exact(value)
    raise NumberError(f"expected a number, got {_toml_type(value)}")


class TomlFloat(float):
    """A TOML float that remembers the text it was written as (``tomllib``'s ``parse_float`` hook).

    ``1e-400`` is then out of range instead of silently 0, ``1e1000`` out of range instead of
    infinite, and 23 written digits stay 23 digits.

    >>> import tomllib
    >>> value = tomllib.loads("x = 0.12345678901234567890123", parse_float=TomlFloat.parse)["x"]
    >>> exact_from_toml(value)
    Fraction(12345678901234567890123, 100000000000000000000000)
    """

    text: str

    @classmethod
    def parse(cls, text: str) -> "TomlFloat":
        number = cls(text)  # 1e1000 becomes inf here; its text is what counts
        number.text = text
        return number


def _toml_type(value: object) -> str:
    return {list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def format_decimal(value: object, digits: int, trim: bool = False) -> str:
    """Decimal text with ``digits`` significant digits, never in float precision.

    ``trim`` drops trailing zeros of a plain decimal, so an exact 0.8 reads
    ``0.8``, not ``0.8000``.

    Accepts anything SymPy can evaluate numerically (an exact expression, a
    ``Float``, a ``Fraction`` or an ``mpf``).

    >>> format_decimal(Fraction(1, 3), 10)
    '0.3333333333'
    >>> format_decimal(0, 5)
    '0'
    >>> format_decimal(Fraction(-123456, 10**9), 4)
    '-0.0001235'
    >>> format_decimal(Fraction(4, 5), 6, trim=True)
    '0.8'
    """
    exact = _exactly(value)
    if exact is None:  # an expression (evaluated with ten guard digits), an infinity, or a vast magnitude
        number = to_mpf(value, digits + 10)
        exact = _exactly(number)
        if exact is None:  # (laid out by mpmath from its own rounding)
            if number == 0:
                return "0"
            with mpmath.workdps(digits + 10):
                return mpmath.nstr(number, digits, min_fixed=-12, max_fixed=30, strip_zeros=False)
    if exact == 0:
        return "0"
    text = _laid_out(*_rounded_significant(exact, digits), digits)
    if trim and "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


#: Largest binary exponent a number is turned into an exact rational for rounding (2^±100,000 is 10^±30,103).
MAX_EXACT_EXPONENT = 100_000


def _exactly(value: object) -> Fraction | None:
    """A Fraction, an int or a binary number (mpmath's, or a SymPy Float) as the exact rational it is; None
    for anything else, an infinity, or a binary number beyond 2^±MAX_EXACT_EXPONENT."""
    if isinstance(value, (int, float, Fraction)):
        return Fraction(value)
    if isinstance(value, (mpmath.mpf, sympy.Float)):
        binary = value._mpf_  # (its own bits: mpf() of them would round to mpmath's current precision)
        if binary in (mpmath.libmp.finf, mpmath.libmp.fninf, mpmath.libmp.fnan):
            return None
        sign, mantissa, exponent, _ = binary
        mantissa, exponent = (-1) ** sign * int(mantissa), int(exponent)
        if abs(exponent) > MAX_EXACT_EXPONENT:
            return None
        return Fraction(mantissa << exponent) if exponent >= 0 else Fraction(mantissa, 1 << -exponent)
    if isinstance(value, sympy.Rational):
        return Fraction(int(value.p), int(value.q))
    return None


def _rounded_significant(value: Fraction, digits: int) -> tuple[int, int]:
    """(m, e) with m·10^e the value rounded to ``digits`` significant digits, half away from zero, exactly
    (in integers: this runs for every number a training run prints).

    >>> _rounded_significant(Fraction(12345000001, 10**11), 4), _rounded_significant(Fraction(-1, 8), 2)
    ((1235, -4), (-13, -2))
    """
    numerator, denominator = abs(value.numerator), value.denominator

    def at_least(power: int) -> bool:  # |value| ≥ 10^power
        return numerator >= denominator * 10**power if power >= 0 else numerator * 10**-power >= denominator

    # 10^power ≤ |value| < 10^(power+1), from the bit lengths (no decimal string of a vast integer)
    power = int((numerator.bit_length() - denominator.bit_length()) * 0.30102999566398)
    while at_least(power + 1):
        power += 1
    while not at_least(power):
        power -= 1
    exponent = power - digits + 1
    if exponent >= 0:
        unit = denominator * 10**exponent
        mantissa, rest = divmod(numerator, unit)
    else:
        unit = denominator
        mantissa, rest = divmod(numerator * 10**-exponent, unit)
    if 2 * rest >= unit:
        mantissa += 1
    return (mantissa if value > 0 else -mantissa), exponent


#: The decimal exponents written in plain positional form (beyond them: 1.234e-13, 1.234e+30).
_FIXED_EXPONENTS = range(-11, 30)


def _laid_out(mantissa: int, exponent: int, digits: int) -> str:
    """m·10^e (m of ``digits`` digits, or 10^digits after rounding up) written with ``digits`` significant
    digits, as ``mpmath.nstr(…, digits, min_fixed=-12, max_fixed=30, strip_zeros=False)`` lays it out.

    >>> _laid_out(1235, -4, 4), _laid_out(-10000, -3, 4), _laid_out(123, 5, 3), _laid_out(5, -14, 1)
    ('0.1235', '-10.00', '12300000.', '5.e-14')
    """
    sign, text = "-" * (mantissa < 0), str(abs(mantissa))
    lead = exponent + len(text) - 1  # the decimal exponent of the leading digit
    text = text[:digits]
    if lead in _FIXED_EXPONENTS:
        if lead < 0:
            return f"{sign}0.{'0' * (-lead - 1)}{text}"
        text += "0" * (lead + 1 - len(text))
        return f"{sign}{text[:lead + 1]}.{text[lead + 1:]}"
    return f"{sign}{text[0]}.{text[1:]}e{'+' if lead >= 0 else ''}{lead}"


def exact_text(value: Fraction) -> str:
    """A number as a file writes it exactly: a decimal where one is exact, else a fraction.

    >>> exact_text(Fraction(3, 20)), exact_text(Fraction(-1, 3)), exact_text(Fraction(7)), exact_text(Fraction(1, 10**30))
    ('0.15', '-1/3', '7', '1e-30')
    """
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    digits = str(abs(value.numerator) * 10**places // value.denominator)
    sign = "-" if value < 0 else ""
    if places > 12 and digits.rstrip("0") and len(digits.rstrip("0")) <= 6:
        significant = digits.rstrip("0")
        exponent = len(digits) - len(significant) - places
        mantissa = significant if len(significant) == 1 else f"{significant[0]}.{significant[1:]}"
        return f"{sign}{mantissa}e{exponent}"
    if places == 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def format_places(value: object, places: int, scientific: bool = False) -> tuple[str, int]:
    """``value`` rounded (half to even) to ``places`` decimals, as (digits, power of ten).

    The power is 0 for ordinary numbers. A nonzero value too small to keep two
    significant digits at ``places`` decimals is written in scientific form
    instead (mantissa with ``places`` decimals, and its power), so a small
    gradient never reads as ``0.0000``; so is a computed value of 10¹⁶ or more, and any nonzero value with
    ``scientific`` (the terms of one sum share one form). Rationals are rounded exactly; anything
    else is evaluated with guard digits first.

    >>> format_places(Fraction(3775, 10000), 4), format_places(Fraction(1, 3), 2)
    (('0.3775', 0), ('0.33', 0))
    >>> format_places(Fraction(-438568, 10**9), 4), format_places(0, 8)
    (('-4.3857', -4), ('0.00000000', 0))
    >>> format_places(Fraction(13368, 10**7), 4, scientific=True)
    ('1.3368', -3)
    """
    if isinstance(value, Fraction):
        exact = value
    else:
        exact = value if isinstance(value, (int, Fraction)) else None
        if exact is None and isinstance(value, sympy.Rational):
            exact = as_fraction(value)
    power = 0
    if exact is not None:
        exact = Fraction(exact)
        if exact and (scientific or abs(exact) < Fraction(1, 10 ** (places - 1))):
            power = math.floor(math.log10(abs(exact)))
            while abs(exact) / Fraction(10) ** power >= 10:  # log10 of a Fraction can be off by one
                power += 1
            while abs(exact) / Fraction(10) ** power < 1:
                power -= 1
            exact = exact / Fraction(10) ** power
        rounded = round(exact * 10**places)  # Python rounds a Fraction half to even, exactly
        if power and abs(rounded) >= 10 ** (places + 1):  # the mantissa rounded up to 10.000…
            power, rounded = power + 1, round(exact / 10 * 10**places)
        text = format(decimal.Decimal(rounded).scaleb(-places), "f")
        return _signed_zero_free(text, places), power
    magnitude = to_mpf(value, 30)
    if magnitude and (scientific or not mpmath.mpf(10) ** (1 - places) <= abs(magnitude) < mpmath.mpf(10) ** LARGEST_PLAIN):
        # log10 to enough digits to place a power of ten of any size (e^(−10²⁰) has one of −4·10¹⁹)
        with mpmath.workdps(30 + len(str(abs(magnitude.exp)))):
            power = int(mpmath.floor(mpmath.log10(abs(magnitude))))
    # Significant digits needed: the integer part (plain form only), the places, and guard digits; the
    # mantissa is formed in mpmath, whose exponents are unbounded.
    whole = max(0, int(mpmath.log10(abs(magnitude) + 1))) if power == 0 else 1
    digits = whole + places + 20
    number = to_mpf(value, digits)
    with mpmath.workdps(digits + len(str(abs(power)))):
        mantissa = number / mpmath.mpf(10) ** power
        mantissa_text = mpmath.nstr(mantissa, digits, min_fixed=-(10**6), max_fixed=10**6)
    with decimal.localcontext() as context:
        context.prec = digits + 5
        context.rounding = decimal.ROUND_HALF_EVEN
        quantum = decimal.Decimal(1).scaleb(-places)
        scaled = decimal.Decimal(mantissa_text).quantize(quantum)
        if abs(scaled) >= 10 and power:  # the mantissa rounded up to 10.000…: one power more
            power, scaled = power + 1, (decimal.Decimal(mantissa_text) / 10).quantize(quantum)
        text = format(scaled, "f")
    return _signed_zero_free(text, places), power


def _signed_zero_free(text: str, places: int) -> str:
    return text[1:] if text.startswith("-") and set(text[1:]) <= set("0.") else text


def as_fraction(value) -> Fraction:
    """An int, a Fraction or a SymPy Rational as a Fraction, exactly (the one conversion of its kind).

    >>> import sympy
    >>> as_fraction(sympy.Rational(-3, 4)), as_fraction(2)
    (Fraction(-3, 4), Fraction(2, 1))
    """
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    return Fraction(int(value.p), int(value.q))


def as_rational(value):
    """An int or a Fraction as a SymPy Rational, exactly (never through a float).

    >>> as_rational(Fraction(3, 10))
    3/10
    """
    value = Fraction(value)
    return sympy.Rational(value.numerator, value.denominator)


def to_mpf(value: object, digits: int | None = None):
    """An mpmath number from a Fraction, int, float, mpf or numeric SymPy expression.

    ``digits`` defaults to the current mpmath precision. The one converter every module uses.

    >>> import mpmath
    >>> with mpmath.workdps(20):
    ...     str(to_mpf(Fraction(1, 3)))
    '0.33333333333333333333'
    """
    with mpmath.workdps(digits or mpmath.mp.dps):
        if isinstance(value, Fraction):
            return mpmath.mpf(value.numerator) / value.denominator
        if isinstance(value, (int, float)):
            return mpmath.mpf(value)
        if isinstance(value, mpmath.mpf):
            return +value
        if not isinstance(value, sympy.Basic):
            raise TypeError(f"not a number: {value!r}")
        evaluated = value.evalf(mpmath.mp.dps)
        if not evaluated.is_Number:
            raise TypeError(f"not a number: {value!r}")
        return mpmath.mpf(evaluated._to_mpmath(mpmath.mp.prec))


def written_unit(text: str) -> Fraction:
    """One unit in the last written place of a decimal string: the precision the author claims.

    >>> written_unit("0.082167041"), written_unit("0.4700"), written_unit("12"), written_unit("1.5e-3")
    (Fraction(1, 1000000000), Fraction(1, 10000), Fraction(1, 1), Fraction(1, 10000))
    """
    cleaned = text.strip().replace("_", "")
    for minus in _MINUS_SIGNS:
        cleaned = cleaned.replace(minus, "-")
    match = _DECIMAL.fullmatch(cleaned)
    if not match:
        return Fraction(0)  # p/q fractions are exact: no rounding claimed
    exponent = int(match["exp"] or "0") - len(match["frac"] or "")
    return Fraction(10) ** exponent


def fast_mpf(value):
    """``value`` as an mpmath number at the current precision, the common cases without :func:`to_mpf`'s
    precision context (which costs more than the division, in the loops of training and the auditor)."""
    if isinstance(value, Fraction):
        return _fraction_mpf(value, mpmath.mp.prec)
    return value if isinstance(value, mpmath.mpf) else to_mpf(value)


@functools.lru_cache(maxsize=4096)
def _fraction_mpf(value: Fraction, precision: int):
    """A file's number at a working precision: the same few numbers are read again and again."""
    return mpmath.mpf(value.numerator) / value.denominator
