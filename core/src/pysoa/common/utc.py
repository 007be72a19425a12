"""The UTC time zone of datetimes decoded from the wire, compatible with PySOA's ``pytz.UTC``.

PySOA decoded aware datetimes with ``tzinfo=pytz.UTC``, and code written for it relies on that:
``value.tzinfo == pytz.UTC``, ``value.tzinfo.zone``, ``value.tzinfo.localize(naive)``,
``value.tzinfo.normalize(aware)``, and ``tzinfo=<UTC>`` in reprs. soa-core does not depend on pytz,
so it decodes with :data:`UTC`, a zero-offset ``tzinfo`` that behaves the same way: it equals
``pytz.UTC`` (either way round) and ``datetime.timezone.utc``, and offers pytz's ``zone``,
``localize`` and ``normalize``. Datetimes in any time zone compare by instant, so decoded values
also equal PySOA's. Only identity differs: ``value.tzinfo is pytz.UTC`` is false.
"""

from __future__ import annotations

from datetime import UTC as _STDLIB_UTC
from datetime import datetime, timedelta, tzinfo
from typing import Final

__all__ = ["UTC", "UTCTimeZone"]

_ZERO: Final = timedelta(0)


class UTCTimeZone(tzinfo):
    """UTC, equal to ``pytz.UTC`` and ``datetime.timezone.utc``. Use the :data:`UTC` instance."""

    zone: Final = "UTC"  # pytz's attribute naming the zone

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return _ZERO

    def dst(self, dt: datetime | None) -> timedelta:
        return _ZERO

    def tzname(self, dt: datetime | None) -> str:
        return "UTC"

    def localize(self, dt: datetime, is_dst: bool | None = False) -> datetime:
        """pytz's API: a naive datetime taken as UTC."""
        if dt.tzinfo is not None:
            raise ValueError("Not naive datetime (tzinfo is already set)")
        return dt.replace(tzinfo=self)

    def normalize(self, dt: datetime, is_dst: bool | None = False) -> datetime:
        """pytz's API: an aware datetime converted to UTC."""
        if dt.tzinfo is None:
            raise ValueError("Naive time - no tzinfo set")
        return dt if dt.tzinfo is self else dt.astimezone(self)

    def __eq__(self, other: object) -> bool:
        # Equal to any UTC: the stdlib's, and pytz's (which has a ``zone`` of "UTC"). pytz.UTC
        # defines no __eq__ of its own, so ``pytz.UTC == UTC`` reaches this method too.
        if other is self or other is _STDLIB_UTC:
            return True
        if not isinstance(other, tzinfo):
            return NotImplemented
        return getattr(other, "zone", None) == "UTC" and other.utcoffset(None) == _ZERO

    def __hash__(self) -> int:
        return hash(_STDLIB_UTC)

    def __repr__(self) -> str:
        return "<UTC>"  # as pytz.UTC, so reprs of decoded datetimes read as PySOA's did

    def __str__(self) -> str:
        return "UTC"

    def __reduce__(self) -> str:
        return "UTC"  # pickles and copies as the module's singleton


UTC: Final = UTCTimeZone()
