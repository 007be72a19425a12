"""Aware datetimes decoded from the wire behave like PySOA's (``tzinfo=pytz.UTC``) without pytz at run time."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC as STDLIB_UTC
from datetime import datetime, timedelta, timezone

import pytest
import pytz

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.utc import UTC

NAIVE = datetime(2020, 1, 2, 3, 4, 5, 678901)
# PySOA 1.4.9 encodes datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=pytz.UTC) as these bytes
# (extension type 10 in docs/protocol.md).
PYSOA_UTC_BLOB = bytes.fromhex("81 a1 76 d7 0a 00 05 9b 1f 72 31 4f 35")


@pytest.fixture
def decoded() -> datetime:
    value = MsgpackSerializer().blob_to_dict(PYSOA_UTC_BLOB)["v"]
    assert isinstance(value, datetime)
    return value


def test_decoded_datetimes_equal_pysoas(decoded: datetime) -> None:
    pysoa_value = pytz.UTC.localize(NAIVE)
    assert decoded == pysoa_value
    assert hash(decoded) == hash(pysoa_value)
    assert decoded.isoformat() == pysoa_value.isoformat() == "2020-01-02T03:04:05.678901+00:00"
    assert repr(decoded) == repr(pysoa_value)
    assert str(decoded) == str(pysoa_value)


def test_the_time_zone_equals_pytz_utc_either_way_round(decoded: datetime) -> None:
    assert decoded.tzinfo == pytz.UTC
    assert decoded.tzinfo == pytz.UTC
    assert (decoded.tzinfo != pytz.UTC) is False
    assert decoded.tzinfo in (pytz.UTC, pytz.utc)
    assert decoded.tzinfo == STDLIB_UTC
    assert decoded.tzinfo == STDLIB_UTC
    assert hash(decoded.tzinfo) == hash(STDLIB_UTC)


@pytest.mark.parametrize(
    "other",
    [timezone(timedelta(hours=1)), pytz.timezone("Europe/London"), pytz.FixedOffset(60), None, "UTC"],
    ids=["offset", "london", "pytz-offset", "none", "string"],
)
def test_the_time_zone_differs_from_other_zones(other: object) -> None:
    assert other != UTC


def test_the_pytz_api_is_there(decoded: datetime) -> None:
    zone = decoded.tzinfo
    assert isinstance(zone, type(UTC))
    assert zone.zone == pytz.UTC.zone == "UTC"
    assert zone.tzname(None) == "UTC"
    assert zone.localize(NAIVE) == pytz.UTC.localize(NAIVE)
    with pytest.raises(ValueError, match="Not naive"):
        zone.localize(decoded)
    eastern = pytz.timezone("US/Eastern").localize(datetime(2020, 7, 1, 12))
    normalized = zone.normalize(eastern)
    assert normalized.tzinfo is UTC
    assert normalized.replace(tzinfo=None) == datetime(2020, 7, 1, 16)
    assert zone.normalize(decoded) is decoded
    with pytest.raises(ValueError, match="Naive"):
        zone.normalize(NAIVE)
    # pytz's own helpers accept it.
    assert pytz.UTC.normalize(decoded) == decoded
    assert decoded.astimezone(pytz.timezone("Asia/Tokyo")).hour == 12


def test_the_time_zone_is_a_singleton_through_pickle_and_copy(decoded: datetime) -> None:
    assert pickle.loads(pickle.dumps(decoded)).tzinfo is UTC
    assert copy.deepcopy(decoded).tzinfo is UTC
    assert copy.copy(UTC) is UTC


def test_pytz_and_stdlib_utc_datetimes_encode_alike() -> None:
    serializer = MsgpackSerializer()
    for zone in (pytz.UTC, STDLIB_UTC, UTC):
        assert serializer.dict_to_blob({"v": NAIVE.replace(tzinfo=zone)}) == PYSOA_UTC_BLOB
