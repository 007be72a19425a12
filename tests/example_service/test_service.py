"""The example service, tested the way its users would test theirs."""

from __future__ import annotations

from typing import Any

import pytest

from example_service.server import Server
from example_service.settings import local_settings
from pysoa.test.server import PyTestServerTestCase
from pysoa.test.stub_service import stub_action


class TestExampleService(PyTestServerTestCase):
    server_class = Server
    server_settings = local_settings()

    def test_square(self) -> None:
        assert self.call_action("square", {"number": 7}).body == {"square": 49}
        assert self.call_action("square", {"number": 1.5}).body == {"square": 2.25}

    def test_square_rejects_a_string(self) -> None:
        self.assertActionRunsWithFieldErrors("square", {"number": "seven"}, {"number": "INVALID"})

    def test_status_reports_the_version_and_the_warning(self) -> None:
        body = self.call_action("status").body
        assert body["version"] == "1.0.0"
        assert body["healthcheck"]["warnings"] == [["TURBOENCABULATOR_WARM", "The turboencabulator is running warm"]]
        assert body["healthcheck"]["diagnostics"] == {"turboencabulator": "prefabulated"}

    def test_call_service_calls_square_through_the_client(self) -> None:
        body = self.call_action("call_service", {"number": 6}, correlation_id="trace-me").body
        assert body == {"square": 36, "correlation_id": "trace-me"}

    @stub_action("example", "square", body={"square": 1000})
    def test_call_service_with_square_stubbed(self, stub_square: Any) -> None:
        assert self.call_action("call_service", {"number": 3}).body["square"] == 1000
        assert stub_square.call_body == {"number": 3}

    def test_call_service_default_number(self) -> None:
        with stub_action("example", "square", side_effect=lambda body: {"square": body["number"] + 1}) as stub:
            assert self.call_action("call_service").body["square"] == 43
        assert stub.call_count == 1


@pytest.fixture(scope="module")
def server_class() -> type[Server]:
    return Server


@pytest.fixture(scope="module")
def server_settings() -> dict[str, Any]:
    return local_settings()


def test_with_the_pytest_fixtures(service_client: Any, action_stubber: Any) -> None:
    assert service_client.call_action("square", {"number": 2}).body == {"square": 4}
    action_stubber("example", "square", body={"square": -1})
    assert service_client.call_action("call_service", {"number": 2}).body["square"] == -1
