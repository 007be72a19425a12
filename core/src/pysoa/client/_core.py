"""What :class:`~pysoa.client.Client` and :class:`~pysoa.client.AsyncClient` share, free of I/O.

Each client keeps only its own way of waiting (blocking on a transport, or awaiting a future);
settings, views, request building, deadlines, expansion set-up and the per-service handler set-up
(transport, metrics, middleware stacks, request ids) live here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from pysoa.client._jobs import build_job, capped_timeout
from pysoa.common.settings import SettingsError, SOASettings
from pysoa.common.types import ActionRequest, JobRequest
from pysoa.errors import CallActionError, CallJobError, ImproperlyConfigured, InvalidExpansionKey, MessageReceiveTimeout
from pysoa.version import __version_info__

if TYPE_CHECKING:
    from pysoa.client.expander import ExpansionConverter

__all__ = ["ClientCore", "HandlerCore"]

_Settings = TypeVar("_Settings", bound=SOASettings)
_Send = TypeVar("_Send", bound=Callable[..., Any])
_Receive = TypeVar("_Receive", bound=Callable[..., Any])

_CLIENT_VERSION = list(__version_info__)


class HandlerCore(Generic[_Settings, _Send, _Receive]):
    """One per service per client: its transport, metrics and middleware stacks, built once and reused by every call.

    Subclasses pass the innermost send and receive callables; the middleware listed in the
    settings wraps them here, outermost first, so a call runs the ready-made stacks.
    """

    def __init__(self, service_name: str, settings: _Settings, base_send: _Send, base_receive: _Receive) -> None:
        self.service_name = service_name
        self.settings = settings
        metrics_config = settings["metrics"]
        self.metrics = metrics_config["object"](**metrics_config.get("kwargs", {})) if metrics_config else None
        transport_config = settings["transport"]
        self.transport: Any = transport_config["object"](service_name, self.metrics, **transport_config["kwargs"])
        self.middleware: list[Any] = [m["object"](**m["kwargs"]) for m in settings["middleware"]]
        for middleware in self.middleware:
            bind = getattr(middleware, "bind", None)
            if bind is not None:
                bind(service_name, self.transport)
        send, receive = base_send, base_receive
        for middleware in reversed(self.middleware):
            send = middleware.request(send)
            receive = middleware.response(receive)
        self._send_stack: _Send = send
        self._receive_stack: _Receive = receive
        self._has_middleware = bool(self.middleware)
        self.request_counter = itertools.count(random.randint(1, 1000000))

    def new_request(self, job_request: JobRequest | dict[str, Any]) -> tuple[int, dict[str, Any], Any]:
        """``(request id, envelope meta, the job as middleware sees it)`` for a request about to be sent.

        Middleware sees a :class:`JobRequest`, as in PySOA, and may add to the meta; without
        middleware the job dict goes straight to the transport.
        """
        if self._has_middleware and not isinstance(job_request, JobRequest):
            job_request = JobRequest(job_request["control"], job_request["context"], job_request["actions"])
        return next(self.request_counter), {"client_version": list(_CLIENT_VERSION)}, job_request

    @staticmethod
    def wire_body(job_request: JobRequest | dict[str, Any]) -> dict[str, Any]:
        """The job as the transport sends it (middleware may have passed on a :class:`JobRequest`)."""
        return job_request.to_dict() if isinstance(job_request, JobRequest) else job_request


_Handler = TypeVar("_Handler")


class ClientCore(Generic[_Settings, _Handler]):
    """Settings per service, the base context, views (:meth:`with_context`, :meth:`with_deadline`) and job building."""

    settings_class: ClassVar[type[SOASettings]]
    handler_class: ClassVar[type[Any]]
    _settings_label: ClassVar[str] = "client"

    ImproperlyConfigured = ImproperlyConfigured
    InvalidExpansionKey = InvalidExpansionKey
    JobError = CallJobError
    CallJobError = CallJobError
    CallActionError = CallActionError

    # The instant (``time.monotonic()``) by which every call of this client must be answered.
    _deadline: float | None = None

    def __init__(
        self,
        config: Mapping[str, Mapping[str, Any]] | None,
        expansion_config: Mapping[str, Any] | None = None,
        settings_class: type[_Settings] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = dict(config or {})
        settings_type: type[Any] = settings_class or self.settings_class
        self.settings: dict[str, _Settings] = {}
        for service_name, service_config in self.config.items():
            try:
                self.settings[service_name] = settings_type(service_config)
            except SettingsError as exc:
                raise type(exc)(f'Invalid {self._settings_label} settings for service "{service_name}": {exc}') from exc
        self.context: dict[str, Any] = dict(context or {})
        self.handlers: dict[str, _Handler] = {}
        self.expansion_converter: ExpansionConverter | None = None
        if expansion_config:
            from pysoa.client.expander import ExpansionConverter, ExpansionSettings

            expansion_settings = ExpansionSettings(expansion_config)
            self.expansion_converter = ExpansionConverter(
                type_routes=expansion_settings["type_routes"],
                type_expansions=expansion_settings["type_expansions"],
            )

    # --- views ---------------------------------------------------------------------------------------

    def with_context(self, context: Mapping[str, Any]) -> Self:
        """A client sharing this one's settings, transports and response routing, with another base context."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.context = dict(context)
        return view

    @property
    def deadline(self) -> float | None:
        """The ``time.monotonic()`` instant this client's calls must finish by, or ``None``."""
        return self._deadline

    def with_deadline(self, deadline: float | None) -> Self:
        """A client sharing this one's settings, transports, routing and context, whose calls end by ``deadline``.

        ``deadline`` is a ``time.monotonic()`` instant. Each call's timeout becomes the time left
        less :data:`CALL_MARGIN_SECONDS` (or its own timeout, when shorter), and a call made with no
        time left raises :class:`MessageReceiveTimeout` without sending anything.
        """
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._deadline = deadline
        return view

    def _call_timeout(self, timeout: float | None, service_name: str | None) -> float | None:
        """The timeout a call really gets: its own, capped by this client's deadline (``None``: parallel jobs)."""
        if self._deadline is None:
            return timeout
        return capped_timeout(self._deadline, timeout, service_name)

    def _parallel_timeout(
        self, timeout: float | None, catch_transport_errors: bool
    ) -> tuple[float | None, MessageReceiveTimeout | None]:
        """``(timeout of each parallel job, None)``; with no time left before this client's deadline
        and ``catch_transport_errors``, ``(timeout, the error every job answers with)``."""
        try:
            return self._call_timeout(timeout, None), None
        except MessageReceiveTimeout as exc:
            if not catch_transport_errors:
                raise
            return timeout, exc

    def _settings_for(self, service_name: str) -> _Settings:
        """The settings of ``service_name``, to build its handler; an unknown service is a configuration error."""
        if not isinstance(service_name, str):
            raise ValueError("Called service name must be a string")
        settings = self.settings.get(service_name)
        if settings is None:
            raise self.ImproperlyConfigured(f'Unrecognized service name "{service_name}"')
        return settings

    # --- building requests ----------------------------------------------------------------------

    def _make_job(
        self,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        switches: Iterable[Any] | None,
        correlation_id: str | None,
        continue_on_error: bool,
        context: Mapping[str, Any] | None,
        control_extra: Mapping[str, Any] | None,
        timeout: float | None,
        suppress_response: bool,
    ) -> dict[str, Any]:
        return build_job(
            self.context,
            actions,
            switches,
            correlation_id,
            continue_on_error,
            context,
            control_extra,
            timeout,
            suppress_response,
        )

    def _check_expansions(self, expansions: Mapping[str, Any] | None) -> None:
        """Raise :class:`InvalidExpansionKey` for an unknown expansion before anything is sent."""
        if expansions and self.expansion_converter is not None:
            self.expansion_converter.dict_to_trees(expansions)
