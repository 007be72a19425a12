"""Stubs for code that calls services: :class:`stub_action` and :class:`StubClient`.

``stub_action(service, action, body=None, errors=None, side_effect=None)`` replaces one action of
one service, for every client in the process, with a :class:`~unittest.mock.MagicMock` that is
called with the action's request body. Use it as a context manager, a decorator of functions,
test methods or test classes (the mock is passed as an extra positional argument, in the order
:func:`unittest.mock.patch` uses, and the two mix), or with ``start()`` / ``stop()``:

.. code-block:: python

    @stub_action('user', 'get_user', body={'user': {'id': 1}})
    def test_greeting(stub_get_user):
        assert greet(1) == 'Hello, user 1'
        assert stub_get_user.call_body == {'id': 1}

    with stub_action('user', 'get_user', errors=[{'code': 'NOT_FOUND', 'message': 'No such user'}]):
        ...

The mock returns an :class:`ActionResponse` with ``body`` and ``errors`` (exactly as given)
unless told otherwise (set ``return_value`` or ``side_effect``). What it returns may be a body
dict, an :class:`ActionResponse` or a :class:`JobResponse`; what it raises may be an
:class:`~pysoa.errors.ActionError` (the action fails), a :class:`~pysoa.errors.JobError` (the
job fails) or a transport error such as :class:`~pysoa.errors.MessageReceiveTimeout` (raised where
the caller waits for the response).

The mock is called when the request is sent, in the order the actions are sent (as PySOA did), so
concurrent calls consume a ``side_effect`` list in the order they were made. Only the stubbed
actions are stubbed: the other actions of the same job still go to the real service, and the
responses come back in order (see :mod:`pysoa.test._stubbing`). ``decorate_callable`` and
``decorate_class`` are ``mock.patch``'s decorator protocol, so decorators that re-apply patches
(``parameterized.expand``) work with stubs too.

:class:`StubClient` is a client whose every service is served in-process by a :class:`StubServer`
answering canned responses (it needs ``soa-local``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from typing import Any, ClassVar, Protocol, TypeAlias, TypeVar, cast
from unittest import mock

from conformity import fields
from conformity.settings import SettingsData

from pysoa.client.client import Client
from pysoa.client.settings import ClientSettings
from pysoa.common._schema_class import schema_class
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage
from pysoa.common.types import ActionResponse, Error
from pysoa.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest
from pysoa.test import _stubbing
from pysoa.test._support import require_local_transport

__all__ = [
    "Errors",
    "StubActionMock",
    "StubClient",
    "StubClientSettings",
    "StubClientTransport",
    "StubClientTransportSchema",
    "StubServer",
    "get_stubbed_requests",
    "get_stubbed_responses",
    "stub_action",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T", bound=type)
_L = TypeVar("_L")

Errors: TypeAlias = Iterable[Mapping[str, Any]] | Iterable[Error]
"""The errors a stub returns: :class:`~pysoa.common.types.Error` objects or dicts of their fields."""


def _to_errors(errors: Iterable[Mapping[str, Any] | Error] | None) -> list[Error]:
    result = []
    for error in errors or ():
        if isinstance(error, Error):
            result.append(error)
        elif isinstance(error, Mapping):
            result.append(Error.from_dict(error))
        else:
            raise TypeError(f"A stub error must be an Error or a dict, not {type(error).__name__}")
    return result


class StubActionMock(mock.MagicMock):
    """The mock of a stubbed action; it is called with the request body."""

    @property
    def call_body(self) -> Any:
        """The request body of the latest call (``None`` before the first)."""
        return self.call_args[0][0] if self.called else None

    @property
    def call_bodies(self) -> tuple[Any, ...]:
        """The request bodies of every call, in order."""
        return tuple(call[0][0] for call in self.call_args_list)


class stub_action:
    """Stub ``action`` of ``service`` while active; see the module documentation.

    ``body`` and ``errors`` (a list of :class:`Error` or dicts) make the mock's return value an
    :class:`ActionResponse` with them (the errors come back exactly as given); a ``side_effect``
    is the mock's. With ``register_request_schema_contract`` /
    ``register_response_schema_contract`` (the default) the bodies the stub receives / returns are
    recorded for :func:`get_stubbed_requests` / :func:`get_stubbed_responses`.

    Entering an active stub again gives the same mock; it stays active until the outermost
    ``with`` block ends, or until :meth:`stop`.
    """

    # unittest.mock.patch's protocol: with these, stacked ``mock.patch`` and ``stub_action``
    # decorators share one wrapper and pass their mocks in order, decorators that re-apply patches
    # (``parameterized.expand``) can, and pytest knows that the extra arguments of a test function
    # are not fixtures.
    attribute_name: ClassVar[str | None] = None
    new: ClassVar[Any] = mock.DEFAULT

    def __init__(
        self,
        service: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
        side_effect: Any = None,
        register_response_schema_contract: bool = True,
        register_request_schema_contract: bool = True,
    ) -> None:
        if not isinstance(service, str) or not isinstance(action, str):
            raise TypeError("stub_action needs the service and action names as str")
        self.service = service
        self.action = action
        self.body: dict[str, Any] = dict(body or {})
        self.errors = _to_errors(errors)
        self.side_effect = side_effect
        self.register_response_schema_contract = register_response_schema_contract
        self.register_request_schema_contract = register_request_schema_contract
        self.mock: StubActionMock | None = None
        self._active: _stubbing.ActiveStub | None = None
        self._depth = 0  # how many times the active stub has been entered

    def __repr__(self) -> str:
        return f"stub_action({self.service!r}, {self.action!r})"

    @property
    def enabled(self) -> bool:
        return self._active is not None

    @property
    def is_local(self) -> bool:
        """``mock.patch``'s name for :attr:`enabled`."""
        return self.enabled

    def copy(self) -> stub_action:
        """A new, inactive stub with the same arguments."""
        return type(self)(
            self.service,
            self.action,
            self.body,
            self.errors,
            self.side_effect,
            self.register_response_schema_contract,
            self.register_request_schema_contract,
        )

    # --- context manager, start / stop ---------------------------------------------------------------

    def __enter__(self) -> StubActionMock:
        if self._active is not None and self.mock is not None:
            self._depth += 1
            return self.mock
        stub_mock = StubActionMock(name=f"{self.service}.{self.action}")
        if self.body or self.errors:
            stub_mock.return_value = ActionResponse(self.action, errors=list(self.errors), body=self.body)
        else:
            stub_mock.return_value = {}
        if self.side_effect is not None:
            # As with any mock, a side effect returning mock.DEFAULT gives the return value.
            stub_mock.side_effect = self.side_effect
        self._active = _stubbing.ActiveStub(
            self.service,
            self.action,
            stub_mock,
            record_requests=self.register_request_schema_contract,
            record_responses=self.register_response_schema_contract,
        )
        _stubbing.activate(self._active)
        self.mock = stub_mock
        self._depth = 1
        return stub_mock

    def __exit__(self, *exc_info: object) -> None:
        self._depth -= 1
        if self._depth <= 0:
            self.stop()

    def start(self) -> StubActionMock:
        """Activate the stub until :meth:`stop`; returns its mock (the same one if already active)."""
        return self.__enter__()

    def stop(self) -> None:
        """Deactivate the stub however often it was entered (doing nothing when it is not active)."""
        active, self._active = self._active, None
        self._depth = 0
        if active is not None:
            _stubbing.deactivate(active)

    # --- decorator ------------------------------------------------------------------------------------

    def __call__(self, target: _F) -> _F:
        if isinstance(target, type):
            return self.decorate_class(target)
        if not callable(target):
            raise TypeError(f"stub_action can decorate a function or a class, not {type(target).__name__}")
        return self.decorate_callable(target)

    def decorate_class(self, cls: _T) -> _T:
        """Stub every ``test*`` method of ``cls`` (each with a fresh stub, so each test gets its own mock)."""
        for name in dir(cls):
            if not name.startswith(mock.patch.TEST_PREFIX):
                continue
            attribute = getattr(cls, name)
            if callable(attribute):
                setattr(cls, name, self.copy()(attribute))
        return cls

    def decorate_callable(self, function: _F) -> _F:
        """Wrap ``function`` so that the stub is active while it runs and its mock is an extra argument.

        A function already wrapped by ``mock.patch`` or ``stub_action`` gets this stub added to its
        wrapper instead, as ``mock.patch`` does. Coroutine functions get an async wrapper.
        """
        patchings = getattr(function, "patchings", None)
        if isinstance(patchings, list):
            # Already wrapped by mock.patch or stub_action: join that wrapper.
            patchings.append(self)
            return function
        if inspect.iscoroutinefunction(function):
            return self.decorate_async_callable(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with ExitStack() as stack:
                extra = _enter_all(stack, wrapper.patchings, kwargs)  # type: ignore[attr-defined]
                return function(*args, *extra, **kwargs)

        wrapper.patchings = [self]  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    def decorate_async_callable(self, function: _F) -> _F:
        """:meth:`decorate_callable` for a coroutine function."""
        patchings = getattr(function, "patchings", None)
        if isinstance(patchings, list):
            patchings.append(self)
            return function

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with ExitStack() as stack:
                extra = _enter_all(stack, async_wrapper.patchings, kwargs)  # type: ignore[attr-defined]
                return await function(*args, *extra, **kwargs)

        async_wrapper.patchings = [self]  # type: ignore[attr-defined]
        return async_wrapper  # type: ignore[return-value]


def _enter_all(stack: ExitStack, patchings: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    """Enter every patcher of a wrapper, as mock.patch does; returns the extra positional arguments."""
    extra = []
    for patching in patchings:
        value = stack.enter_context(patching)
        if patching.attribute_name is not None:
            kwargs.update(value)  # mock.patch.multiple passes keyword arguments
        elif patching.new is mock.DEFAULT:
            extra.append(value)
    return extra


def get_stubbed_requests() -> list[dict[str, Any]]:
    """Every ``{'service', 'action', 'body'}`` request a recording stub received, in order."""
    return _stubbing.STUBBED_REQUESTS


def get_stubbed_responses() -> list[dict[str, Any]]:
    """Every ``{'service', 'action', 'body'}`` response a recording stub gave, in order."""
    return _stubbing.STUBBED_RESPONSES


# --- a server and client answering canned responses -----------------------------------------------------------


class StubServer(Server):
    """A server answering the actions given to :meth:`stub_action` with canned bodies or errors."""

    service_name: ClassVar[str | None] = "stub"

    def __init__(self, settings: Any, forked_process_id: int | None = None) -> None:
        super().__init__(settings, forked_process_id)
        self.stub_action_map: dict[str, dict[str, Any]] = {}

    def stub_action(
        self,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
    ) -> None:
        """Answer ``action`` with ``body``, or fail it with ``errors`` (caller errors)."""
        self.stub_action_map[action] = {"body": dict(body or {}), "errors": _to_errors(errors)}

    def all_action_classes(self) -> dict[str, Any]:
        actions = super().all_action_classes()
        actions.update((name, self.get_action_factory(name)) for name in self.stub_action_map)
        return actions

    def get_action_factory(self, name: str) -> Callable[[Any], Any] | None:
        stub = self.stub_action_map.get(name)
        if stub is None:
            return super().get_action_factory(name)
        body, errors = stub["body"], stub["errors"]

        def run(request: EnrichedActionRequest) -> ActionResponse:
            """A stubbed action."""
            if errors:
                raise ActionError(errors)
            return ActionResponse(request.action, body=_stubbing._copied(body))

        return lambda _settings: run


def _server_class_name(service_name: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in service_name).split()
    return "".join(word[:1].upper() + word[1:] for word in words) + "Server"


def _local_stub_service(
    local_transport_class: Callable[..., _L],
    service_name: str,
    metrics: MetricsRecorder | None,
    action_map: Mapping[str, Mapping[str, Any]] | None,
    module: str,
) -> tuple[_L, StubServer]:
    """A local transport (sync or async side) to a new :class:`StubServer`, stubbed per ``action_map``.

    It does not serialize: stub bodies may hold anything. ``module`` names where the server class is said to live.
    """
    server_class = type(
        _server_class_name(service_name), (StubServer,), {"service_name": service_name, "__module__": module}
    )
    local = local_transport_class(service_name, metrics, server_class=server_class, server_settings={}, serialize=False)
    server: StubServer = getattr(local, "server")  # noqa: B009 - the transport base classes have no .server
    for action, response in (action_map or {}).items():
        server.stub_action(action, body=response.get("body"), errors=response.get("errors"))
    return local, server


class _StubbableClient(Protocol):
    """What :func:`_stub_service_transport` needs of a client, sync or async."""

    settings: dict[str, Any]
    config: dict[str, Any]

    def _get_handler(self, service_name: str) -> Any: ...


def _stub_service_transport(
    client: _StubbableClient, service: str, settings_class: Callable[[dict[str, Any]], Any], transport_path: str
) -> Any:
    """The transport of ``service`` on a stub client, after adding the service (with no stubs) if it is new."""
    if service not in client.settings:
        config = _stub_transport_config(transport_path, {})
        client.settings[service] = settings_class(config)
        client.config[service] = config
    return client._get_handler(service).transport


def _stub_transport_config(transport_path: str, action_map: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"transport": {"path": transport_path, "kwargs": {"action_map": dict(action_map)}}}


class StubClientTransport(ClientTransport):
    """A client transport to an in-process :class:`StubServer` for its service.

    ``action_map`` is ``{action: {'body': {...}}}`` or ``{action: {'errors': [...]}}``. It runs
    over the local transport (``soa-local``), without serialization: stub bodies may hold anything.
    """

    settings_schema: ClassVar[fields.Base] = fields.Dictionary(
        {
            "action_map": fields.SchemalessDictionary(
                key_type=fields.UnicodeString(),
                value_type=fields.Dictionary(
                    {
                        "body": fields.SchemalessDictionary(description="The response body"),
                        "errors": fields.List(
                            fields.Any(fields.ObjectInstance(Error), fields.SchemalessDictionary()),
                            description="Errors (Error objects or dicts) the action fails with",
                        ),
                    },
                    optional_keys=("body", "errors"),
                ),
                description="The canned response of each action",
            ),
        },
        optional_keys=("action_map",),
    )

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        action_map: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(service_name, metrics)
        self._local: ClientTransport
        self._local, self.server = _local_stub_service(
            require_local_transport(), service_name, metrics, action_map, __name__
        )

    def stub_action(
        self,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
    ) -> None:
        self.server.stub_action(action, body=body, errors=errors)

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        self._local.send_request_message(request_id, meta, body, message_expiry_in_seconds)

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        return self._local.receive_response_message(receive_timeout_in_seconds)


StubClientTransportSchema = schema_class(
    "StubClientTransportSchema", cast(fields.Dictionary, StubClientTransport.settings_schema), __name__
)


class StubClientSettings(ClientSettings):
    """Client settings whose transport is :class:`StubClientTransport` unless told otherwise."""

    defaults: SettingsData = {
        "transport": {"path": f"{__name__}:StubClientTransport"},
    }


class StubClient(Client):
    """A client whose services answer canned responses: ``{service: {action: {'body': ...}}}``.

    .. code-block:: python

        client = StubClient({'user': {'get_user': {'body': {'id': 1}}}})
        client.stub_action('user', 'delete_user', errors=[{'code': 'NOT_AUTHORIZED', 'message': 'No'}])
    """

    settings_class: ClassVar[type[ClientSettings]] = StubClientSettings

    def __init__(
        self,
        service_action_map: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        **kwargs: Any,
    ) -> None:
        config = {service: self._stub_config(action_map) for service, action_map in (service_action_map or {}).items()}
        super().__init__(config, **kwargs)

    @staticmethod
    def _stub_config(action_map: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return _stub_transport_config(f"{__name__}:StubClientTransport", action_map)

    def stub_action(
        self,
        service: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
    ) -> None:
        """Answer ``action`` of ``service`` with ``body`` (or fail it with ``errors``); adds the service if new."""
        transport = _stub_service_transport(self, service, StubClientSettings, f"{__name__}:StubClientTransport")
        if not isinstance(transport, StubClientTransport):
            raise TypeError(f"Service {service!r} of this StubClient does not use StubClientTransport")
        transport.stub_action(action, body=body, errors=errors)
