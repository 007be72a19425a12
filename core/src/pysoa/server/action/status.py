"""The built-in ``status`` action: versions, and health checks from ``check_*`` methods."""

from __future__ import annotations

import platform
import sys
from abc import abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple, TypeAlias

import conformity
from conformity import fields

import pysoa
from pysoa.server.action.base import Action
from pysoa.server.types import EnrichedActionRequest

__all__ = [
    "BaseStatusAction",
    "CheckMethodReturn",
    "CheckMethodStatus",
    "StatusActionFactory",
    "make_default_status_action_class",
]


class CheckMethodStatus(NamedTuple):
    is_error: bool
    code: str
    description: str


CheckMethodReturn: TypeAlias = Iterable[CheckMethodStatus] | None
"""What a ``check_*`` method returns (PySOA's name, for type hints)."""


class BaseStatusAction(Action):
    """Reports versions and runs every ``check_*`` method.

    A check method takes the request and returns an iterable of ``(is_error, code, description)``
    (or nothing). Set ``_version`` (and optionally ``_build``) in a subclass, as a class attribute
    or a property; put extra data in ``self.diagnostics``. As in PySOA, ``_version`` is abstract:
    a subclass without one cannot be instantiated.
    """

    description = (
        "Returns version info for the service, Python, soa-core and Conformity. When verbose is not false, "
        "it also runs the service's health checks."
    )
    request_schema = fields.Dictionary(
        {
            "verbose": fields.Boolean(description="Run health checks (default true)"),
            "runtime": fields.Boolean(description="Add the answering worker's runtime figures (default false)"),
        },
        optional_keys=("verbose", "runtime"),
    )
    response_schema = fields.Dictionary(
        {
            "build": fields.UnicodeString(),
            "conformity": fields.UnicodeString(),
            "healthcheck": fields.Dictionary(
                {
                    "warnings": fields.List(fields.Tuple(fields.UnicodeString(), fields.UnicodeString())),
                    "errors": fields.List(fields.Tuple(fields.UnicodeString(), fields.UnicodeString())),
                    "diagnostics": fields.SchemalessDictionary(key_type=fields.UnicodeString()),
                },
                optional_keys=("warnings", "errors", "diagnostics"),
            ),
            "pysoa": fields.UnicodeString(),
            "python": fields.UnicodeString(),
            "version": fields.UnicodeString(),
            "runtime": fields.SchemalessDictionary(key_type=fields.UnicodeString()),
        },
        optional_keys=("build", "healthcheck", "runtime"),
    )

    _build: ClassVar[str | None] = None

    @property
    @abstractmethod
    def _version(self) -> str:
        """The service's version, reported as ``version``."""

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self.diagnostics: dict[str, Any] = {}

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        status: dict[str, Any] = {
            "conformity": conformity.__version__,
            "pysoa": pysoa.__version__,
            "python": platform.python_version(),
            "version": self._version,
        }
        if self._build:
            status["build"] = self._build
        if request.body.get("runtime"):
            # Figures of the worker that answers (see pysoa.server.runtime_stats); absent outside a server.
            stats = getattr(getattr(request, "_server", None), "runtime_stats", None)
            if stats is not None:
                status["runtime"] = stats.figures()
        if request.body.get("verbose", True):
            errors: list[tuple[str, str]] = []
            warnings: list[tuple[str, str]] = []
            for name in sorted(dir(self)):
                if not name.startswith("check_"):
                    continue
                check = getattr(self, name)
                if not callable(check):
                    continue
                results: Iterable[tuple[bool, str, str]] | None = check(request)
                for is_error, code, description in results or ():
                    (errors if is_error else warnings).append((code, description))
            status["healthcheck"] = {"errors": errors, "warnings": warnings, "diagnostics": self.diagnostics}
        return status

    def _check_client_settings(self, request: EnrichedActionRequest) -> list[CheckMethodStatus] | None:
        """Opt-in check (``check_client_settings = BaseStatusAction._check_client_settings``).

        Calls ``status`` (not verbose, so the check does not recurse) on every service the request's
        client is configured for, in parallel with a 2-second timeout. Each healthy service's status
        goes into ``diagnostics['services'][name]``; a failing one is reported as an error coded
        ``<NAME>_TRANSPORT_ERROR`` (it could not be reached), ``<NAME>_CALL_ERROR`` (job errors) or
        ``<NAME>_STATUS_ERROR`` (its status action failed), described by the exception or the errors
        as text, as PySOA worded them; any other failure is ``CHECK_SERVICES_UNKNOWN_ERROR``.
        """
        client = request.client
        if client is None or not client.settings:
            return None
        services: dict[str, Any] = {}
        self.diagnostics["services"] = services
        service_names = list(client.settings)
        try:
            responses = client.call_jobs_parallel(
                [
                    {"service_name": name, "actions": [{"action": "status", "body": {"verbose": False}}]}
                    for name in service_names
                ],
                timeout=2,
                catch_transport_errors=True,
                raise_job_errors=False,
                raise_action_errors=False,
            )
        except Exception as exc:
            return [CheckMethodStatus(True, "CHECK_SERVICES_UNKNOWN_ERROR", str(exc))]
        problems: list[CheckMethodStatus] = []
        for name, response in zip(service_names, responses, strict=True):
            code = name.upper()
            if isinstance(response, BaseException):
                problems.append(CheckMethodStatus(True, f"{code}_TRANSPORT_ERROR", str(response)))
            elif response.errors:
                problems.append(CheckMethodStatus(True, f"{code}_CALL_ERROR", str(response.errors)))
            elif response.actions[0].errors:
                problems.append(CheckMethodStatus(True, f"{code}_STATUS_ERROR", str(response.actions[0].errors)))
            else:
                services[name] = response.actions[0].body
        return problems


def StatusActionFactory(
    version: str, build: str | None = None, base_class: type[BaseStatusAction] = BaseStatusAction
) -> type[BaseStatusAction]:
    """Build a status action class reporting ``version`` (and ``build``)."""
    return type("StatusAction", (base_class,), {"_version": version, "_build": build})


def make_default_status_action_class(server_class: type) -> type[BaseStatusAction]:
    """The ``status`` action a server gets when its ``action_class_map`` has none.

    The version is the ``__version__`` of the server's top-level package (``'unknown'`` if absent).
    """
    top_package = sys.modules.get(server_class.__module__.split(".")[0])
    version = getattr(top_package, "__version__", "unknown")
    build = getattr(top_package, "__build__", None)
    return StatusActionFactory(str(version), str(build) if build else None)
