"""pytest context managers asserting that a call fails with particular errors.

.. code-block:: python

    with raises_field_errors({'name': 'MISSING'}):
        client.call_action('user', 'create_user', {})

    with raises_call_action_error() as exc_info:
        client.call_action('user', 'get_user', {'id': 0})
    assert exc_info.soa_errors[0].code == 'NOT_FOUND'

Expected codes in ``raises_error_codes`` match errors without a ``field``; ``raises_field_errors``
takes ``{field: code or codes}``. By default other errors are allowed; the ``raises_only_*``
variants (or ``only=True``) fail on any error that was not expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest

from pysoa.errors import CallActionError
from pysoa.test._support import error_mismatch_message

__all__ = [
    "raises_call_action_error",
    "raises_error_codes",
    "raises_field_errors",
    "raises_only_error_codes",
    "raises_only_field_errors",
]


@contextmanager
def raises_call_action_error(**kwargs: Any) -> Iterator[pytest.ExceptionInfo[CallActionError]]:
    """Like ``pytest.raises(CallActionError, **kwargs)``; afterwards ``exc_info.soa_errors`` holds
    the errors of the first action that failed."""
    with pytest.raises(CallActionError, **kwargs) as exc_info:
        yield exc_info
    failed = exc_info.value.actions
    # ExceptionInfo has no such attribute; PySOA's tests read it, so it is added here.
    exc_info.soa_errors = failed[0].errors if failed else []


@contextmanager
def raises_error_codes(
    error_codes: str | Iterable[str], only: bool = False, **kwargs: Any
) -> Iterator[pytest.ExceptionInfo[CallActionError]]:
    """The block must raise :class:`CallActionError` with (at least) these non-field error codes."""
    with raises_call_action_error(**kwargs) as exc_info:
        yield exc_info
    _check(exc_info, codes=error_codes, only=only)


@contextmanager
def raises_only_error_codes(
    error_codes: str | Iterable[str], **kwargs: Any
) -> Iterator[pytest.ExceptionInfo[CallActionError]]:
    """Like :func:`raises_error_codes`, and no other error may be present."""
    with raises_error_codes(error_codes, only=True, **kwargs) as exc_info:
        yield exc_info


@contextmanager
def raises_field_errors(
    field_errors: Mapping[str, str | Iterable[str]], only: bool = False, **kwargs: Any
) -> Iterator[pytest.ExceptionInfo[CallActionError]]:
    """The block must raise :class:`CallActionError` with (at least) these ``{field: code(s)}`` errors."""
    with raises_call_action_error(**kwargs) as exc_info:
        yield exc_info
    _check(exc_info, field_errors=field_errors, only=only)


@contextmanager
def raises_only_field_errors(
    field_errors: Mapping[str, str | Iterable[str]], **kwargs: Any
) -> Iterator[pytest.ExceptionInfo[CallActionError]]:
    """Like :func:`raises_field_errors`, and no other error may be present."""
    with raises_field_errors(field_errors, only=True, **kwargs) as exc_info:
        yield exc_info


def _check(
    exc_info: pytest.ExceptionInfo[CallActionError],
    *,
    codes: str | Iterable[str] = (),
    field_errors: Mapping[str, str | Iterable[str]] | None = None,
    only: bool,
) -> None:
    problem = error_mismatch_message(exc_info.soa_errors, codes=codes, field_errors=field_errors, only=only)  # type: ignore[attr-defined]
    if problem:
        pytest.fail(problem)
