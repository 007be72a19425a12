"""Values in fixtures: field paths, data types, and ``[[...]]`` substitutions.

Paths: dots separate levels, a number is a list index, ``{...}`` keeps dots or digits literal
(``foo.{bar.baz}`` is key ``'bar.baz'``, ``foo.{0}`` is key ``'0'``).

Data types convert the text after the last ``:`` of a directive, as PySOA did: an empty value is
the type's zero (``0``, ``''``, ``False``...); ``bool`` is true only for ``true`` (any case);
``now``/``midnight``-style dates and times drop microseconds and take an optional
``+days,hours,minutes,seconds,microseconds`` offset.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import re
from collections.abc import Callable, Mapping
from typing import Any

from pysoa.test.plan.errors import DataTypeConversionError

__all__ = [
    "MISSING",
    "AnyValue",
    "RegexValue",
    "convert",
    "freeze_target",
    "get_path",
    "has_substitution",
    "put_path",
    "split_path",
    "substitute",
]

_PATH_ELEMENT = re.compile(r"\{([^{}]*)\}|([^.{}]+)")
_SUBSTITUTION = re.compile(r"\[\[([^\[\]]+)\]\]")
_UTC = datetime.UTC


def split_path(path: str) -> list[str | int]:
    """``'a.{b.c}.0'`` → ``['a', 'b.c', 0]``; raises ValueError for an empty element or unbalanced braces."""
    elements: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_ELEMENT.match(path, position)
        if match is None:
            raise ValueError(f"cannot read the path {path!r} at character {position + 1}")
        escaped, plain = match.groups()
        if escaped is not None:
            elements.append(escaped)
        else:
            elements.append(int(plain) if plain.isdigit() else plain)
        position = match.end()
        if position < len(path):
            if path[position] != ".":
                raise ValueError(f"cannot read the path {path!r} at character {position + 1}")
            position += 1
            if position == len(path):
                raise ValueError(f"the path {path!r} ends with a dot")
    if not elements:
        raise ValueError("the path is empty")
    return elements


def put_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at ``path`` in ``target``, creating the dicts and lists on the way."""
    elements = split_path(path)
    container: Any = target
    for element, next_element in zip(elements, [*elements[1:], None], strict=True):
        if next_element is None:
            _store(container, element, value)
            return
        child = _fetch(container, element)
        if not isinstance(child, dict | list):
            child = [] if isinstance(next_element, int) else {}
            _store(container, element, child)
        container = child


def _fetch(container: Any, element: str | int) -> Any:
    if isinstance(container, list):
        return container[element] if isinstance(element, int) and element < len(container) else None
    return container.get(element)


def _store(container: Any, element: str | int, value: Any) -> None:
    if isinstance(container, list):
        if not isinstance(element, int):
            raise ValueError(f"{element!r} is not a list index")
        container.extend([None] * (element + 1 - len(container)))
    container[element] = value


MISSING = object()  # what get_path returns for a path that is not there


def get_path(actual: Any, path: str | list[str | int]) -> Any:
    """The value at ``path`` in ``actual``, or :data:`MISSING` when any level of it is absent."""
    elements = split_path(path) if isinstance(path, str) else path
    current = actual
    for element in elements:
        if isinstance(current, list | tuple):
            if not isinstance(element, int) or element >= len(current):
                return MISSING
            current = current[element]
        elif isinstance(current, Mapping):
            if element in current:
                current = current[element]
            elif isinstance(element, int) and str(element) in current:
                current = current[str(element)]
            else:
                return MISSING
        else:
            return MISSING
    return current


class AnyValue:
    """Equal to any value of one data type (``expect any int: ...``); dates and datetimes also match ISO text."""

    _ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
    _ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")

    def __init__(self, data_type: str) -> None:
        self.data_type = data_type

    def matches(self, value: Any) -> bool:
        checks: dict[str, Callable[[Any], bool]] = {
            "str": lambda v: isinstance(v, str),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "float": lambda v: isinstance(v, float),
            "decimal": lambda v: isinstance(v, decimal.Decimal),
            "bool": lambda v: isinstance(v, bool),
            "bytes": lambda v: isinstance(v, bytes),
            "datetime": lambda v: (
                isinstance(v, datetime.datetime) or (isinstance(v, str) and bool(self._ISO_DATETIME.match(v)))
            ),
            "date": lambda v: (
                (isinstance(v, datetime.date) and not isinstance(v, datetime.datetime))
                or (isinstance(v, str) and bool(self._ISO_DATE.match(v)))
            ),
            "time": lambda v: isinstance(v, datetime.time),
            "emptylist": lambda v: isinstance(v, list),
            "emptydict": lambda v: isinstance(v, dict),
        }
        check = checks.get(self.data_type)
        if check is None:
            return type(value).__name__ == self.data_type
        return check(value)

    def __repr__(self) -> str:
        return f"any {self.data_type} value"


class RegexValue:
    """A string that matches (``regex``) or does not match (``not regex``) a pattern at its start."""

    def __init__(self, pattern: str, negate: bool) -> None:
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise DataTypeConversionError(f"{pattern!r} is not a regular expression: {exc}") from None
        self.negate = negate

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        return (self.regex.match(value) is None) == self.negate

    def __repr__(self) -> str:
        return f"{'a string not matching' if self.negate else 'a string matching'} {self.regex.pattern!r}"


def _timedelta(offset: str) -> datetime.timedelta:
    sign = -1 if offset.startswith("-") else 1
    parts = [int(part) for part in offset.lstrip("+-").split(",")]
    if len(parts) > 5:
        raise ValueError("an offset has at most 5 parts: days,hours,minutes,seconds,microseconds")
    names = ("days", "hours", "minutes", "seconds", "microseconds")
    return sign * datetime.timedelta(**dict(zip(names, parts, strict=False)))


def _split_offset(value: str) -> tuple[str, datetime.timedelta]:
    word, _, offset = value.strip().partition(" ")
    return word, _timedelta(offset.strip()) if offset.strip() else datetime.timedelta()


def _integers(value: str, at_most: int) -> list[int]:
    parts = [int(part) for part in value.split(",")]
    if len(parts) > at_most:
        raise ValueError(f"at most {at_most} comma-separated numbers")
    return parts


def _to_datetime(value: str) -> datetime.datetime:
    word, offset = _split_offset(value)
    now = datetime.datetime.now
    relative: dict[str, Callable[[], datetime.datetime]] = {
        "now": lambda: now(),
        "utc_now": lambda: now(_UTC),
        "midnight": lambda: datetime.datetime.combine(datetime.date.today(), datetime.time()),
        "utc_midnight": lambda: datetime.datetime.combine(now(_UTC).date(), datetime.time(), _UTC),
    }
    if word in relative:
        return relative[word]().replace(microsecond=0) + offset
    year, month, day, *rest = _integers(value, 7)
    hour, minute, second, microsecond = [*rest, 0, 0, 0, 0][:4]
    return datetime.datetime(year, month, day, hour, minute, second, microsecond)


def _to_date(value: str) -> datetime.date:
    if value == "today":
        return datetime.date.today()
    if value == "utc_today":
        return datetime.datetime.now(_UTC).date()
    year, month, day = _integers(value, 3)
    return datetime.date(year, month, day)


def _to_time(value: str) -> datetime.time:
    word, offset = _split_offset(value)
    relative: dict[str, Callable[[], datetime.datetime]] = {
        "now": lambda: datetime.datetime.now(),
        "utc_now": lambda: datetime.datetime.now(_UTC).replace(tzinfo=None),
        "midnight": lambda: datetime.datetime(2000, 1, 1),
    }
    if word in relative:
        return (relative[word]().replace(microsecond=0) + offset).time()
    hour, minute, second, microsecond = [*_integers(value, 4), 0, 0, 0, 0][:4]
    return datetime.time(hour, minute, second, microsecond)


def _needs_value(name: str, function: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert_non_empty(value: str) -> Any:
        if not value:
            raise ValueError(f"a {name} needs a value")
        return function(value)

    return convert_non_empty


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": lambda v: v,
    "int": lambda v: int(v) if v else 0,
    "float": lambda v: float(v) if v else 0.0,
    "decimal": lambda v: decimal.Decimal(v) if v else decimal.Decimal("0.0"),
    "bool": lambda v: v.lower() == "true",
    "bytes": lambda v: v.encode("utf-8"),
    "base64_bytes": lambda v: base64.b64decode(v.encode("ascii"), validate=True),
    "encoded_ascii": lambda v: v.encode("ascii").decode("unicode_escape"),
    "encoded_unicode": lambda v: v.encode("utf-8").decode("unicode_escape"),
    "emptystr": lambda v: "",
    "emptylist": lambda v: [],
    "emptydict": lambda v: {},
    "none": lambda v: None,
    "None": lambda v: None,
    "datetime": _needs_value("datetime", _to_datetime),
    "date": _needs_value("date", _to_date),
    "time": _needs_value("time", _to_time),
    "regex": lambda v: RegexValue(v, negate=False),
    "not regex": lambda v: RegexValue(v, negate=True),
}


def convert(data_type: str, raw: str | None) -> Any:
    """The fixture text ``raw`` as a value of ``data_type``; raises :class:`DataTypeConversionError`."""
    data_type = re.sub(r"\s+", " ", data_type)
    try:
        return _CONVERTERS[data_type](raw or "")
    except DataTypeConversionError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise DataTypeConversionError(f"{raw!r} is not a valid {data_type}: {exc}") from None


def substitute(raw: str, resolve: Callable[[str], Any]) -> Any:
    """Replace each ``[[path]]`` in ``raw`` with ``resolve(path)``.

    When ``raw`` is a single substitution and nothing else, the resolved value itself is returned
    (an int stays an int); otherwise the values are written into the text.
    """
    whole = _SUBSTITUTION.fullmatch(raw.strip())
    if whole is not None:
        return resolve(whole.group(1).strip())
    return _SUBSTITUTION.sub(lambda match: str(resolve(match.group(1).strip())), raw)


def freeze_target(raw: str) -> datetime.datetime | None:
    """What ``freeze time: raw`` freezes the clock at: None (the current time) for ``now``, else an ISO 8601
    date and time such as PySOA's ``2019-03-04T05:06:07Z`` (a time zone converts to UTC)."""
    if raw == "now":
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise DataTypeConversionError(
            f"cannot freeze time at {raw!r}: use 'now' or an ISO 8601 date and time like 2019-03-04T05:06:07Z"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_UTC).replace(tzinfo=None)
    return moment


def has_substitution(raw: str | None) -> bool:
    return raw is not None and _SUBSTITUTION.search(raw) is not None
