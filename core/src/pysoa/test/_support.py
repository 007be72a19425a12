"""Pieces shared by the test case classes, the assertions and the pytest fixtures."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.errors import UnknownPluginError

if TYPE_CHECKING:
    from pysoa.common.transport.base import ClientTransport
    from pysoa.common.types import Error
    from pysoa.server.server import Server

__all__ = [
    "SETTINGS_MODULE_ENV_VAR",
    "default_server_settings",
    "error_mismatch_message",
    "local_client_settings",
    "require_local_transport",
]

SETTINGS_MODULE_ENV_VAR = "PYSOA_SETTINGS_MODULE"


def require_local_transport() -> type[ClientTransport]:
    """The local client transport class; fails with an install hint when ``soa-local`` is missing or blocked."""
    from pysoa.plugins import get_plugin_manager

    try:
        return get_plugin_manager().client_transport("local")
    except UnknownPluginError as exc:
        raise UnknownPluginError(
            "The pysoa test utilities run services in-process over the local transport, which is not "
            f"available. Install it with: pip install soa-local ({exc})"
        ) from exc


def default_server_settings(server_class: type[Server]) -> dict[str, Any]:
    """The settings a test server gets when the test names none.

    Django's ``SOA_SERVER_SETTINGS`` when the server ``use_django``; otherwise ``SOA_SERVER_SETTINGS``
    (or, as PySOA also accepted, ``settings``) of the module named by ``$PYSOA_SETTINGS_MODULE``.
    As in PySOA, having no settings source at all, or one that cannot be imported or holds no
    settings, fails the test with an ``AssertionError`` naming the problem: running a service's
    tests against silently defaulted settings would hide a broken test set-up.
    """
    if server_class.use_django:
        from django.conf import settings as django_settings

        return dict(django_settings.SOA_SERVER_SETTINGS)
    module_name = os.environ.get(SETTINGS_MODULE_ENV_VAR)
    if not module_name:
        raise AssertionError(f"{SETTINGS_MODULE_ENV_VAR} environment variable must be set to run tests.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AssertionError(f"Could not import {SETTINGS_MODULE_ENV_VAR}: {module_name} ({exc})") from exc
    settings = getattr(module, "SOA_SERVER_SETTINGS", None)
    if settings is None:
        settings = getattr(module, "settings", None)
    if not isinstance(settings, Mapping):
        raise AssertionError(f"Could not access {module_name}.SOA_SERVER_SETTINGS or {module_name}.settings")
    return dict(settings)


def local_client_settings(server_class: type[Server], server_settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Client settings (for ``Client(config)``) reaching ``server_class`` in-process."""
    require_local_transport()
    service_name = server_class.service_name
    if not service_name:
        raise TypeError(f"{server_class.__name__} has no service_name")
    return {
        service_name: {
            "transport": {
                "name": "local",
                "kwargs": {"server_class": server_class, "server_settings": dict(server_settings or {})},
            },
        },
    }


# --- matching expected errors -------------------------------------------------------------------------------


def _codes(codes: str | Iterable[str]) -> list[str]:
    return [codes] if isinstance(codes, str) else list(codes)


def error_mismatch_message(
    errors: Iterable[Error],
    *,
    codes: str | Iterable[str] = (),
    field_errors: Mapping[str, str | Iterable[str]] | None = None,
    only: bool = False,
) -> str | None:
    """Why ``errors`` do not match the expectation, or ``None`` when they do.

    ``codes`` are expected on errors without a ``field``; ``field_errors`` maps a field to the
    code(s) expected on it. Every expected error must be present; with ``only``, nothing else may be.
    """
    errors = list(errors)
    expected: list[tuple[str | None, str]] = [(None, code) for code in _codes(codes)]
    for field, field_codes in (field_errors or {}).items():
        expected.extend((field, code) for code in _codes(field_codes))
    remaining = list(expected)
    unexpected: list[Error] = []
    for error in errors:
        key = (error.field or None, error.code or "")
        if key in remaining:
            remaining.remove(key)
        elif key not in expected:
            unexpected.append(error)
    problems = []
    if remaining:
        shown = [code if field is None else {field: code} for field, code in remaining]
        problems.append(f"Expected errors not found in response: {shown}")
    if only and unexpected:
        problems.append(f"Unexpected errors found in response: {[_describe(e) for e in unexpected]}")
    if not problems:
        return None
    problems.append(f"Errors in response: {[_describe(e) for e in errors]}")
    return "\n".join(problems)


def _describe(error: Error) -> Any:
    return (error.code, error.message) if not error.field else {error.field: (error.code, error.message)}
