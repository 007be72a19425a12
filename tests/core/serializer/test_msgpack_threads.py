"""One MsgpackSerializer shared by many threads (as a client's is) never mixes their messages up."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    # Switch threads as often as possible, so that one thread's encoding is interrupted by another's
    # while msgpack calls back into Python for an extension value.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_concurrent_encoding_with_one_serializer() -> None:
    serializer = MsgpackSerializer()
    failures: list[str] = []

    def work(index: int) -> None:
        start = datetime(2000, 1, 1) + timedelta(days=index)
        message: dict[str, Any] = {
            "thread": index,
            "items": [{"at": start + timedelta(seconds=k), "n": Decimal(k) / 7, "s": "x" * k} for k in range(50)],
        }
        for _ in range(200):
            try:
                if serializer.blob_to_dict(serializer.dict_to_blob(message)) != message:
                    failures.append(f"thread {index}: wrong message back")
            except Exception as exc:
                failures.append(f"thread {index}: {exc!r}")

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
