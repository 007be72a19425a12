"""Database connections of a ``use_django`` server, counted with Django's ``connection_created`` signal.

The server checks connections before and after every request and when idle. Checking must never open one: with
``CONN_MAX_AGE = 0`` a request opens only the connection its action uses, and with a positive ``CONN_MAX_AGE`` the
one open connection is reused. Runs on the SQLite project in tests/django_project.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.runtime.test_django import Spool, database, server, spool

__all__ = ["database", "server", "spool"]  # fixtures shared with test_django.py


class ConnectionCount:
    def __init__(self) -> None:
        self.created = 0

    def __call__(self, **kwargs: Any) -> None:
        self.created += 1


@contextmanager
def counting_connections() -> Iterator[ConnectionCount]:
    from django.db.backends.signals import connection_created

    count = ConnectionCount()
    connection_created.connect(count, weak=False)
    try:
        yield count
    finally:
        connection_created.disconnect(count)


@contextmanager
def conn_max_age(seconds: int | None) -> Iterator[None]:
    from django.db import connection

    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = seconds
    try:
        yield
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.close()


def test_a_request_without_database_use_opens_no_connection(spool: Spool) -> None:
    from django.db import connection

    connection.close()
    with counting_connections() as count:
        spool.handle("recall")
        spool.handle("recall")
    assert count.created == 0


def test_a_request_opens_only_the_connection_its_action_uses(spool: Spool) -> None:
    from django.db import connection

    connection.close()
    with counting_connections() as count:
        spool.handle("list_notes")
        assert count.created == 1
        assert connection.connection is None  # CONN_MAX_AGE = 0: closed after the request
        spool.handle("save_note", {"text": "one connection"})
    assert count.created == 2


def test_an_idle_worker_opens_no_connection(spool: Spool) -> None:
    from django.db import connection

    connection.close()
    with counting_connections() as count:
        for _ in range(3):
            spool.server.handle_next_request()  # nothing queued: an idle cycle
    assert count.created == 0


def test_with_a_positive_conn_max_age_the_open_connection_is_reused(spool: Spool) -> None:
    from django.db import connection

    with conn_max_age(600), counting_connections() as count:
        spool.handle("recall")
        spool.server.handle_next_request()
        assert count.created == 0  # no action used the database: nothing to keep open
        spool.handle("list_notes")
        opened = connection.connection
        assert count.created == 1
        spool.handle("save_note", {"text": "reused"})
        spool.handle("recall")
        spool.server.handle_next_request()
        assert count.created == 1
        assert connection.connection is opened


def test_the_pysoa_helpers_close_only_old_open_connections(spool: Spool) -> None:
    from django.db import connection, transaction

    from pysoa.server.django.database import django_close_old_database_connections

    with conn_max_age(600), counting_connections() as count:
        django_close_old_database_connections()
        assert connection.connection is None
        assert count.created == 0  # a closed connection is not opened to be checked

        connection.ensure_connection()
        django_close_old_database_connections()
        assert connection.connection is not None  # younger than CONN_MAX_AGE

        connection.close_at = time.monotonic() - 1  # as if 600 s had passed
        with transaction.atomic():
            django_close_old_database_connections()
            assert connection.connection is not None  # inside a transaction: left alone
        django_close_old_database_connections()
        assert connection.connection is None
        assert count.created == 1


def test_django_reset_database_queries_empties_the_query_log(spool: Spool) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pysoa.server.django.database import django_reset_database_queries
    from tests.django_project.notes.models import Note

    with CaptureQueriesContext(connection):  # forces the query log on, as DEBUG = True does
        Note.objects.count()
        assert len(connection.queries_log) > 0
        django_reset_database_queries()
        assert len(connection.queries_log) == 0
