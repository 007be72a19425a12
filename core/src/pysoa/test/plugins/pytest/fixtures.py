"""pytest fixtures for testing a service (registered automatically through the ``pytest11`` entry point).

Define a ``server_class`` fixture (module scope or wider) returning your server class, then use
``service_client``:

.. code-block:: python

    @pytest.fixture(scope='module')
    def server_class():
        return MyServer

    def test_square(service_client):
        assert service_client.call_action('square', {'number': 3}).body == {'square': 9}

    def test_with_a_stub(service_client, action_stubber):
        stub = action_stubber('other_service', 'get_thing', body={'thing': 1})
        ...
        assert stub.call_count == 1

Nothing of soa-core beyond this module is imported until a fixture is used, so the plugin costs
nothing in test runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from unittest.mock import MagicMock

    from pysoa.client.client import Client
    from pysoa.server.server import Server

# The contract suite's assertions are rewritten (so a failure shows the values), as pytest does for test modules.
pytest.register_assert_rewrite("pysoa.test.contract")

__all__ = ["action_stubber", "server_settings", "service_client", "service_client_class", "service_client_settings"]


@pytest.fixture(scope="module")
def server_settings(server_class: type[Server]) -> dict[str, Any]:
    """The server's settings: Django's ``SOA_SERVER_SETTINGS`` when it ``use_django``, else those of
    ``$PYSOA_SETTINGS_MODULE`` (an ``AssertionError`` when unset or unusable, as in PySOA).
    Override the fixture to choose others."""
    from pysoa.test._support import default_server_settings

    return default_server_settings(server_class)


@pytest.fixture(scope="module")
def service_client_settings(server_class: type[Server], server_settings: Mapping[str, Any]) -> dict[str, Any]:
    """Client settings reaching ``server_class`` in-process over the local transport."""
    from pysoa.test._support import local_client_settings

    return local_client_settings(server_class, server_settings)


@pytest.fixture(scope="module")
def service_client_class(server_class: type[Server]) -> type[Client]:
    """A :class:`Client` whose ``call_action(action, body=None, service_name=None, **kwargs)`` calls
    the service under test unless told otherwise."""
    from pysoa.client.client import Client

    default_service = str(server_class.service_name)

    class ServiceClient(Client):
        def call_action(  # type: ignore[override]
            self, action: str, body: Mapping[str, Any] | None = None, service_name: str | None = None, **kwargs: Any
        ) -> Any:
            return super().call_action(service_name or default_service, action, body, **kwargs)

    return ServiceClient


@pytest.fixture(scope="module")
def service_client(service_client_class: type[Client], service_client_settings: Mapping[str, Any]) -> Client:
    """A client of the service under test (built once per module)."""
    return service_client_class(service_client_settings)


@pytest.fixture
def action_stubber() -> Iterator[Callable[..., MagicMock]]:
    """``action_stubber(service, action, body=None, errors=None, side_effect=None)`` stubs an action
    (see :func:`pysoa.test.stub_service.stub_action`) until the test ends, and returns its mock."""
    from pysoa.test.stub_service import stub_action

    started: list[stub_action] = []

    def _do_stub(
        service: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Any = None,
        side_effect: Any = None,
    ) -> MagicMock:
        stub = stub_action(service, action, body=body, errors=errors, side_effect=side_effect)
        mock = stub.start()
        started.append(stub)
        return mock

    yield _do_stub
    for stub in reversed(started):
        stub.stop()
