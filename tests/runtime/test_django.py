"""Django integration against the real project in tests/django_project (SQLite, a model, a migration).

The Django settings are configured once for this test process; worker processes get the same
database file through ``DJANGO_PROJECT_DB``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest

from pysoa.errors import ConfigurationError
from tests.runtime.conftest import REPO, Service, pid_alive
from tests.runtime.spool import read_response, write_request


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("django") / "notes.sqlite3"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_PROJECT_DB", str(path))
        patch.setenv("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
        from django.conf import settings

        if settings.configured:
            assert settings.SETTINGS_MODULE == "tests.django_project.settings"
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield Path(settings.DATABASES["default"]["NAME"])


@pytest.fixture
def server(database: Path, tmp_path: Path) -> Any:
    """The notes server in this process, over a file spool in ``tmp_path / 'spool'``."""
    from django.conf import settings

    from tests.django_project.server import NotesServer

    transport = {"path": "tests.runtime.spool:SharedSpoolServerTransport", "kwargs": {"spool": str(tmp_path / "spool")}}
    return NotesServer({**settings.SOA_SERVER_SETTINGS, "transport": transport})


class Spool:
    def __init__(self, server: Any, directory: Path) -> None:
        self.server = server
        self.directory = str(directory)
        self.ids = iter(range(1, 1000))

    def handle(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue one request and let the server handle exactly it."""
        request_id = next(self.ids)
        write_request(self.directory, request_id, [{"action": action, "body": body or {}}])
        self.server.handle_next_request()
        response = read_response(self.directory, request_id, timeout=1)
        assert response["actions"][0]["errors"] == [], response
        return dict(response["actions"][0]["body"])


@pytest.fixture
def spool(server: Any, tmp_path: Path) -> Spool:
    return Spool(server, tmp_path / "spool")


def test_actions_save_and_read_models_and_the_connection_is_closed_after_each_request(spool: Spool) -> None:
    from django.db import connection

    spool.handle("save_note", {"text": "first"})
    assert connection.connection is None  # CONN_MAX_AGE = 0: closed once the request is over
    spool.handle("save_note", {"text": "second"})
    assert connection.connection is None
    assert spool.handle("list_notes")["notes"][-2:] == ["first", "second"]
    assert connection.connection is None


def test_a_persistent_connection_is_kept_across_requests(spool: Spool) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = None
    try:
        spool.handle("save_note", {"text": "kept"})
        kept = connection.connection
        assert kept is not None
        spool.handle("list_notes")
        assert connection.connection is kept  # the clean-up only closes connections that are due
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.close()


def test_an_idle_worker_closes_connections_that_are_past_their_age(spool: Spool) -> None:
    import time

    from django.db import connection

    connection.settings_dict["CONN_MAX_AGE"] = 600
    try:
        spool.handle("list_notes")
        assert connection.connection is not None
        connection.close_at = time.monotonic() - 1  # as if 600 s had passed
        spool.server.handle_next_request()  # nothing queued: an idle cycle
        assert connection.connection is None
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0


def test_caches_are_closed_after_each_request(spool: Spool) -> None:
    spool.handle("remember", {"value": 42})
    # The request-scoped cache was emptied when the request ended; the process-scoped one lives on.
    assert spool.handle("recall") == {"request": None, "process": 42}


def test_the_server_test_cases_read_django_settings(database: Path) -> None:
    from django.conf import settings

    from pysoa.test.server import PyTestServerTestCase
    from tests.django_project.server import NotesServer

    class NotesTest(PyTestServerTestCase):
        server_class = NotesServer  # server_settings unset: Django's SOA_SERVER_SETTINGS

    case = NotesTest()
    case.setup_pysoa()
    case.call_action("save_note", {"text": "from a test case"})
    assert case.call_action("list_notes").body["notes"][-1] == "from a test case"
    handler = case.client._get_handler("notes")
    server = handler.transport.server  # type: ignore[attr-defined]
    assert (
        server.settings["harakiri"] == settings.SOA_SERVER_SETTINGS["harakiri"] == {"timeout": 0, "shutdown_grace": 2}
    )


def test_sync_logging_makes_one_configuration(database: Path) -> None:
    from django.test import override_settings

    from pysoa.server.django_support import sync_logging

    soa_logging = {"version": 1, "root": {"level": "WARNING"}}
    django_logging = {"version": 1, "root": {"level": "DEBUG"}}
    with override_settings(SOA_SERVER_SETTINGS={"logging": soa_logging}, LOGGING=django_logging):
        from django.conf import settings

        assert "differs from SOA_SERVER_SETTINGS['logging']" in (sync_logging() or "")
        assert soa_logging == settings.LOGGING
    with override_settings(SOA_SERVER_SETTINGS={}, LOGGING=django_logging):
        assert sync_logging() is None
        assert settings.SOA_SERVER_SETTINGS["logging"] == django_logging
    with override_settings(SOA_SERVER_SETTINGS={}, LOGGING={}):
        assert sync_logging() is None
        assert settings.SOA_SERVER_SETTINGS["logging"] == settings.LOGGING
        assert settings.LOGGING["handlers"]["console"]["class"] == "logging.StreamHandler"  # the server's default
    missing = pytest.raises(ConfigurationError, match="must define SOA_SERVER_SETTINGS")
    with override_settings(SOA_SERVER_SETTINGS=None), missing:
        sync_logging()


def test_django_main_runs_forked_workers_sharing_the_database(
    database: Path, start_service: Callable[..., Service]
) -> None:
    service = start_service(
        "-m", "tests.django_project.standalone", "-s", "tests.django_project.settings", "-f", "2",
        env={"DJANGO_PROJECT_DB": str(database)},
    )  # fmt: skip
    workers = service.wait_for_workers(2)
    saved_by = {service.call("save_note", {"text": f"worker note {n}"})["actions"][0]["body"]["pid"] for n in range(4)}
    assert saved_by <= set(workers.values())
    notes = service.call("list_notes")["actions"][0]["body"]["notes"]
    assert [f"worker note {n}" for n in range(4)] == notes[-4:]
    assert service.call("connection_state")["actions"][0]["body"] == {"open": False}
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    log = service.log()
    # Django's LOGGING became the server's: the supervisor and the workers log with its format.
    assert "DJANGO-LOGGING INFO" in log
    assert "pysoa.server.supervisor: Started worker #2" in log
    assert not any(pid_alive(pid) for pid in workers.values())


def test_soa_serve_sets_up_django_for_a_use_django_server(
    database: Path, start_service: Callable[..., Service]
) -> None:
    service = start_service(
        "-m", "pysoa", "serve", "tests.django_project.server:NotesServer", "--django",
        "--settings", "tests.django_project.settings", env={"DJANGO_PROJECT_DB": str(database)},
    )  # fmt: skip
    service.wait_for_workers(1)
    assert service.call("save_note", {"text": "via soa serve"})["actions"][0]["errors"] == []
    service.send(signal.SIGTERM)
    assert service.wait() == 0


def test_django_main_without_a_settings_module_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.django_project.standalone"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Give the Django settings module with -s/--settings or $DJANGO_SETTINGS_MODULE" in result.stderr
