from __future__ import annotations

from collections.abc import Iterator

import pytest

from pysoa.client import Client
from tests.core.test_utilities.services import RECEIVED, calculator_client


@pytest.fixture
def client() -> Iterator[Client]:
    """A client of the real calculator service; RECEIVED starts empty."""
    RECEIVED.clear()
    yield calculator_client()
    RECEIVED.clear()
