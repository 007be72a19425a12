"""``pysoa.test.factories``: PySOA's factory_boy factories and ``ActionFactory``."""

from __future__ import annotations

import importlib
import sys
from typing import Any, ClassVar

import pytest

from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.settings import ServerSettings
from pysoa.test.factories import ActionFactory, ServerFactory, ServerSettingsFactory
from pysoa.test.server import PyTestServerTestCase
from pysoa.test.stub_service import StubServer
from soa_local.transport import LocalServerTransport


class FactoryServer(Server):
    service_name = "factory"
    action_class_map: ClassVar[dict[str, Any]] = {
        "plain": ActionFactory(),
        "answer": ActionFactory(body={"answer": 42}),
        "refuse": ActionFactory(exception=ActionError([Error(code="NOPE", message="No", field="x")])),
        "explode": ActionFactory(exception=ZeroDivisionError("boom")),
    }


class FactoryServerFactory(ServerFactory):
    class Meta:
        model = FactoryServer


def test_server_settings_always_use_the_local_transport() -> None:
    settings = ServerSettingsFactory()
    assert isinstance(settings, ServerSettings)
    assert settings["transport"]["object"] is LocalServerTransport

    custom = ServerSettingsFactory(data={"transport": "redis", "extra_fields_to_redact": {"nickname"}})
    assert custom["transport"]["object"] is LocalServerTransport  # a test server never uses a real transport
    assert custom["extra_fields_to_redact"] == {"nickname"}

    assert [s["transport"]["object"] for s in ServerSettingsFactory.build_batch(2)] == [LocalServerTransport] * 2


def test_server_settings_from_a_module() -> None:
    settings = ServerSettingsFactory.from_module("tests.core.test_utilities.settings_module")
    assert settings["extra_fields_to_redact"] == {"from_settings_module"}
    assert settings["transport"]["object"] is LocalServerTransport
    with pytest.raises(AttributeError, match="no settings or SOA_SERVER_SETTINGS"):
        ServerSettingsFactory.from_module("tests.core.test_utilities.services")


def test_server_factory_subclass_builds_its_model() -> None:
    server = FactoryServerFactory()
    assert type(server) is FactoryServer
    assert server.settings["transport"]["object"] is LocalServerTransport

    with_data = FactoryServerFactory(settings__data={"request_log_success_level": "DEBUG"})
    assert with_data.settings["request_log_success_level"] == "DEBUG"


def test_server_factory_of_the_base_server_fails_as_in_pysoa() -> None:
    with pytest.raises(AttributeError, match="must set service_name"):
        ServerFactory()
    # A server class that names its service takes the factory's settings as they are.
    assert isinstance(StubServer(ServerSettingsFactory()).settings, ServerSettings)


class TestActionFactoryActions(PyTestServerTestCase):
    server_class = FactoryServer
    server_settings: ClassVar[dict[str, Any]] = {}

    def test_body_and_default(self) -> None:
        assert self.call_action("answer").body == {"answer": 42}
        assert self.call_action("plain").body == {}

    def test_exceptions_are_raised_from_run(self) -> None:
        self.assertActionRunsWithFieldErrors("refuse", {}, {"x": "NOPE"})
        self.assertActionRunsWithErrorCodes("explode", {}, "SERVER_ERROR")


def test_action_factory_makes_a_fresh_action_class_each_time() -> None:
    first, second = ActionFactory(body={"n": 1}), ActionFactory(body={"n": 2})
    assert first is not second
    assert issubclass(first, Action)
    assert issubclass(second, Action)


def test_without_factory_boy_only_action_factory_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "factory" or name.startswith("factory.")]:
        monkeypatch.setitem(sys.modules, name, None)  # what an uninstalled package looks like to import
    monkeypatch.setitem(sys.modules, "factory", None)
    monkeypatch.delitem(sys.modules, "pysoa.test._factory_boy", raising=False)
    factories = importlib.import_module("pysoa.test.factories")
    assert factories.ActionFactory(body={"a": 1}) is not None
    with pytest.raises(ImportError, match=r"pip install 'soa-core\[testing\]'"):
        from pysoa.test.factories import ServerFactory as _
    with pytest.raises(AttributeError, match="no attribute 'Missing'"):
        _ = factories.Missing
