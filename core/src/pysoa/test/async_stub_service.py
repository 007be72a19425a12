"""A stub :class:`~pysoa.client.AsyncClient` for testing asyncio code that calls services.

.. code-block:: python

    client = AsyncStubClient({'user': {'get_user': {'body': {'id': 1}}}})
    client.stub_action('user', 'delete_user', errors=[{'code': 'NOT_AUTHORIZED', 'message': 'No'}])
    assert (await client.call_action('user', 'get_user')).body == {'id': 1}

The counterpart of :class:`pysoa.test.stub_service.StubClient`, with the same canned responses; each
service is a :class:`~pysoa.test.stub_service.StubServer` run in the caller's event loop by the local
transport's async side, without serialization. (:func:`~pysoa.test.stub_service.stub_action` stubs
real ``AsyncClient`` calls too.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from conformity import fields
from conformity.settings import SettingsData

from pysoa.client.async_client import AsyncClient, AsyncClientSettings
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.async_base import AsyncClientTransport
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.types import Error
from pysoa.errors import UnknownPluginError
from pysoa.test.stub_service import (
    StubClientTransport,
    _local_stub_service,
    _stub_service_transport,
    _stub_transport_config,
)

__all__ = ["AsyncStubClient", "AsyncStubClientSettings", "AsyncStubClientTransport"]


def _async_local_transport() -> type[AsyncClientTransport]:
    from pysoa.plugins import get_plugin_manager

    try:
        return get_plugin_manager().async_client_transport("local")
    except UnknownPluginError as exc:
        raise UnknownPluginError(
            f"AsyncStubClient runs its stub services over the local transport: pip install soa-local ({exc})"
        ) from exc


class AsyncStubClientTransport(AsyncClientTransport):
    """An async client transport to an in-process :class:`StubServer` (settings as :class:`StubClientTransport`)."""

    settings_schema: ClassVar[fields.Base] = StubClientTransport.settings_schema

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        action_map: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(service_name, metrics)
        self._local: AsyncClientTransport
        self._local, self.server = _local_stub_service(
            _async_local_transport(), service_name, metrics, action_map, __name__
        )
        self.receive_timeout_in_seconds = self._local.receive_timeout_in_seconds

    def stub_action(
        self,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
    ) -> None:
        self.server.stub_action(action, body=body, errors=errors)

    async def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        await self._local.send_request_message(request_id, meta, body, message_expiry_in_seconds)

    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        return await self._local.receive_response_message(receive_timeout_in_seconds)


class AsyncStubClientSettings(AsyncClientSettings):
    """Async client settings whose transport is :class:`AsyncStubClientTransport` unless told otherwise."""

    defaults: SettingsData = {
        "transport": {"path": f"{__name__}:AsyncStubClientTransport"},
    }


class AsyncStubClient(AsyncClient):
    """An AsyncClient whose services answer canned responses: ``{service: {action: {'body': ...}}}``."""

    settings_class: ClassVar[type[AsyncClientSettings]] = AsyncStubClientSettings

    def __init__(
        self,
        service_action_map: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        **kwargs: Any,
    ) -> None:
        config = {service: self._stub_config(action_map) for service, action_map in (service_action_map or {}).items()}
        super().__init__(config, **kwargs)

    @staticmethod
    def _stub_config(action_map: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return _stub_transport_config(f"{__name__}:AsyncStubClientTransport", action_map)

    def stub_action(
        self,
        service: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
    ) -> None:
        """Answer ``action`` of ``service`` with ``body`` (or fail it with ``errors``); adds the service if new."""
        transport = _stub_service_transport(
            self, service, AsyncStubClientSettings, f"{__name__}:AsyncStubClientTransport"
        )
        if not isinstance(transport, AsyncStubClientTransport):
            raise TypeError(f"Service {service!r} of this AsyncStubClient does not use AsyncStubClientTransport")
        transport.stub_action(action, body=body, errors=errors)
