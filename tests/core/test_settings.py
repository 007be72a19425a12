"""Client and server settings: PySOA 1.4's keys and defaults, plugin references, errors naming key paths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from conformity import fields
from conformity.settings import SettingsSchema

from pysoa.client.middleware import ClientMiddleware
from pysoa.client.settings import ClientSettings
from pysoa.common.metrics import CountingMetricsRecorder, NoOpMetricsRecorder
from pysoa.common.settings import SettingsError, SOASettings, resolve_python_path
from pysoa.common.transport.base import ClientTransport
from pysoa.errors import ConfigurationError
from pysoa.plugins import PluginManager, set_plugin_manager
from pysoa.plugins.reference import PluginReference
from pysoa.server.settings import ServerSettings

from .plugins.fakes import (
    FakeClientMiddleware,
    FakeClientTransport,
    FakeServerMiddleware,
    FakeServerTransport,
    fake_plugin,
)

FAKES = "tests.core.plugins.fakes"


@pytest.fixture(autouse=True)
def plugins() -> Iterator[PluginManager]:
    """Only the fake plugins (and soa-core's built-ins) exist while these tests run."""
    manager = PluginManager(autoload=False, blocked=())
    manager.register(fake_plugin(), name="fakes")
    previous = set_plugin_manager(manager)
    yield manager
    set_plugin_manager(previous)


@fields.ClassConfigurationSchema.provider(
    fields.Dictionary({"foo": fields.Integer(), "bar": fields.UnicodeString()}, optional_keys=("bar",))
)
class PySOAStyleTransport(FakeClientTransport):
    """A class written for PySOA: its kwargs schema is attached the Conformity way, not as settings_schema."""

    def __init__(self, service_name: str, metrics: Any = None, foo: int = 0, bar: str = "") -> None:
        super().__init__(service_name, metrics)
        self.foo, self.bar = foo, bar


def _problems(exc: pytest.ExceptionInfo[SettingsError]) -> list[str]:
    """The ``  - key.path: message`` lines of a SettingsError."""
    return [line.removeprefix("  - ") for line in str(exc.value).splitlines()[1:]]


class TestDefaults:
    def test_client_settings_have_pysoa_keys_and_defaults(self) -> None:
        assert set(ClientSettings.schema) == {"transport", "middleware", "metrics"}
        assert ClientSettings.defaults == {
            # PySOA defaults to the Redis transport; here it is named by its plugin name.
            "transport": "redis",
            "middleware": [],
            "metrics": {"path": "pysoa.common.metrics:NoOpMetricsRecorder"},
        }

    def test_the_default_transport_is_redis_and_says_how_to_get_it(self) -> None:
        with pytest.raises(SettingsError) as caught:
            ClientSettings({})
        assert _problems(caught) == [
            "transport: No client transport plugin named 'redis' is installed; installed: fake. "
            "Install it with: pip install soa-redis"
        ]

    def test_client_defaults_are_filled_in(self) -> None:
        settings = ClientSettings({"transport": {"name": "fake", "kwargs": {"host": "h"}}})
        assert settings["middleware"] == []
        assert settings["metrics"]["object"] is NoOpMetricsRecorder
        assert settings["metrics"]["kwargs"] == {}

    def test_server_settings_have_pysoa_keys_and_defaults(self) -> None:
        assert {
            "transport",
            "middleware",
            "metrics",
            "client_routing",
            "logging",
            "harakiri",
            "request_log_success_level",
            "request_log_error_level",
            "heartbeat_file",
            "extra_fields_to_redact",
        } <= set(ServerSettings.schema)
        settings = ServerSettings({"transport": "fake"})
        assert settings["transport"]["object"] is FakeServerTransport
        assert settings["middleware"] == []
        assert settings["metrics"]["object"] is NoOpMetricsRecorder
        assert settings["client_routing"] == {}
        assert settings["harakiri"] == {"timeout": 300, "shutdown_grace": 30}
        assert settings["request_log_success_level"] == "INFO"
        assert settings["request_log_error_level"] == "INFO"
        assert settings["heartbeat_file"] is None
        assert settings["extra_fields_to_redact"] == set()
        assert ServerSettings.defaults["transport"] == "redis"

    def test_server_logging_defaults_are_pysoa_s(self) -> None:
        logging_config = ServerSettings({"transport": "fake"})["logging"]
        assert logging_config["version"] == 1
        assert logging_config["formatters"]["console"] == {
            "format": "%(asctime)s %(levelname)7s %(correlation_id)s %(request_id)s: %(message)s"
        }
        assert logging_config["formatters"]["syslog"] == {
            "format": "%(service_name)s_service: %(name)s %(levelname)s %(module)s %(process)d "
            "correlation_id %(correlation_id)s request_id %(request_id)s %(message)s"
        }
        assert logging_config["filters"] == {
            "pysoa_logging_context_filter": {"()": "pysoa.common.logging.PySOALogContextFilter"}
        }
        assert logging_config["handlers"]["console"] == {
            "level": "INFO",
            "class": "logging.StreamHandler",
            "formatter": "console",
            "filters": ["pysoa_logging_context_filter"],
        }
        assert logging_config["root"] == {"handlers": ["console"], "level": "INFO"}
        assert logging_config["disable_existing_loggers"] is False
        # The default configuration names only importable classes.
        resolve_python_path(logging_config["filters"]["pysoa_logging_context_filter"]["()"])

    def test_user_values_are_deep_merged_into_the_defaults(self) -> None:
        settings = ServerSettings({"transport": "fake", "harakiri": {"timeout": 0}})
        assert settings["harakiri"] == {"timeout": 0, "shutdown_grace": 30}

    def test_defaults_are_not_shared_between_instances(self) -> None:
        first = ServerSettings({"transport": "fake"})
        first["extra_fields_to_redact"].add("secret")
        assert ServerSettings({"transport": "fake"})["extra_fields_to_redact"] == set()


class TestPluginReferenceForms:
    def test_a_plugin_name(self) -> None:
        settings = ServerSettings({"transport": "fake", "middleware": ["fake-mw"]})
        assert settings["transport"] == {
            "name": "fake",
            "path": f"{FAKES}:FakeServerTransport",
            "object": FakeServerTransport,
            "kwargs": {},
        }
        assert settings["middleware"] == [
            {"name": "fake-mw", "path": f"{FAKES}:FakeServerMiddleware", "object": FakeServerMiddleware, "kwargs": {}}
        ]

    def test_a_name_with_kwargs(self) -> None:
        settings = ClientSettings(
            {
                "transport": {"name": "fake", "kwargs": {"host": "example", "port": 8}},
                "middleware": [{"name": "fake-mw", "kwargs": {"level": 3}}],
            }
        )
        assert settings["transport"]["object"] is FakeClientTransport
        assert settings["transport"]["kwargs"] == {"host": "example", "port": 8}
        assert settings["middleware"][0]["object"] is FakeClientMiddleware
        assert settings["middleware"][0]["kwargs"] == {"level": 3}

    @pytest.mark.parametrize("path", [f"{FAKES}:FakeClientTransport", f"{FAKES}.FakeClientTransport"])
    def test_pysoa_s_path_form(self, path: str) -> None:
        settings = ClientSettings({"transport": {"path": path, "kwargs": {"host": "h"}}})
        assert settings["transport"]["object"] is FakeClientTransport
        assert settings["transport"]["name"] == "fake"
        assert settings["transport"]["path"] == f"{FAKES}:FakeClientTransport"

    def test_a_path_reaches_a_class_no_plugin_registers(self) -> None:
        path = f"{__name__}:PySOAStyleTransport"
        settings = ClientSettings({"transport": {"path": path, "kwargs": {"foo": 1}}})
        assert settings["transport"]["object"] is PySOAStyleTransport
        assert settings["transport"]["kwargs"] == {"foo": 1}

    def test_kwargs_of_a_pysoa_style_class_are_validated_against_its_provider_schema(self) -> None:
        # Its own (nearer) Conformity schema wins over the settings_schema it inherits.
        path = f"{__name__}:PySOAStyleTransport"
        with pytest.raises(SettingsError) as caught:
            ClientSettings({"transport": {"path": path, "kwargs": {"foo": "one", "host": "h"}}})
        assert _problems(caught) == [
            "transport.kwargs.foo: Not an integer",
            "transport.kwargs: Extra keys present: host",
        ]

    def test_a_class_declaring_no_schema_inherits_its_base_class_s(self) -> None:
        # ClientMiddleware takes no kwargs, and neither does a subclass that declares nothing.
        with pytest.raises(SettingsError) as caught:
            ClientSettings(
                {
                    "transport": {"name": "fake", "kwargs": {"host": "h"}},
                    "middleware": [{"path": f"{__name__}:QuietMiddleware", "kwargs": {"loud": True}}],
                }
            )
        assert _problems(caught) == ["middleware.0.kwargs: Extra keys present: loud"]

    def test_validated_settings_validate_again_unchanged(self) -> None:
        data = {
            "transport": {"name": "fake", "kwargs": {"host": "h"}},
            "middleware": ["fake-mw", {"path": f"{FAKES}:FakeClientMiddleware", "kwargs": {"level": 1}}],
        }
        settings = ClientSettings(data)
        again = ClientSettings(settings.copy_data())
        assert again.copy_data() == settings.copy_data()

    def test_the_user_s_data_is_not_modified(self) -> None:
        data: dict[str, Any] = {"transport": {"name": "fake", "kwargs": {"host": "h"}}}
        ClientSettings(data)
        assert data == {"transport": {"name": "fake", "kwargs": {"host": "h"}}}

    def test_a_metrics_recorder_is_resolved(self) -> None:
        settings = ClientSettings(
            {
                "transport": {"name": "fake", "kwargs": {"host": "h"}},
                "metrics": {"path": "pysoa.common.metrics:CountingMetricsRecorder"},
            }
        )
        assert settings["metrics"]["object"] is CountingMetricsRecorder


class QuietMiddleware(ClientMiddleware):
    """Declares no kwargs schema of its own (module level, so that a path can name it)."""

    name = "quiet"


class TestErrorsNameTheKeyPath:
    @pytest.mark.parametrize(
        ("transport", "expected"),
        [
            (
                "fak",
                "transport: No client transport plugin named 'fak' is installed; installed: fake. Did you mean 'fake'?",
            ),
            (
                {"name": "fak", "kwargs": {"host": "h"}},
                "transport.name: No client transport plugin named 'fak' is installed; installed: fake. "
                "Did you mean 'fake'?",
            ),
            ({"name": 3}, "transport.name: Not a string (a plugin name)"),
            ({"path": 3}, "transport.path: Not a string ('module:Class')"),
            (
                {"path": "tests.core.no_such_module:Transport"},
                "transport.path: Cannot import module 'tests.core.no_such_module'",
            ),
            ({"path": f"{FAKES}:Missing"}, f"transport.path: Module '{FAKES}' has no attribute 'Missing'"),
            ({"path": "no_colon_or_dot"}, "transport.path: 'no_colon_or_dot' is not of the form 'package.module:Name'"),
            (
                {"path": f"{FAKES}:FakeServerTransport"},
                f"transport.path: '{FAKES}:FakeServerTransport' is not a subclass of "
                "pysoa.common.transport.base.ClientTransport",
            ),
            (
                {"object": FakeServerTransport},
                "transport.object: <class 'tests.core.plugins.fakes.FakeServerTransport'> is not a subclass of "
                "pysoa.common.transport.base.ClientTransport",
            ),
            ({"name": "fake", "path": f"{FAKES}:FakeClientTransport"}, "transport: Give either 'name' or 'path'"),
            ({"kwargs": {}}, "transport: Missing key 'name' (a plugin name) or 'path' ('module:Class')"),
            ({"name": "fake", "kwarg": {}}, "transport: Extra keys present: kwarg"),
            ({"name": "fake", "kwargs": ["host"]}, "transport.kwargs: Not a dict"),
            ({"name": "fake", "kwargs": {}}, "transport.kwargs.host: Missing key: host"),
            ({"name": "fake", "kwargs": {"host": "h", "port": "80"}}, "transport.kwargs.port: Not an integer"),
            (
                7,
                "transport: Expected a client transport plugin name, {'name': ..., 'kwargs': ...} or "
                "{'path': 'module:Class', 'kwargs': ...}; got int",
            ),
        ],
    )
    def test_a_bad_transport(self, transport: object, expected: str) -> None:
        with pytest.raises(SettingsError) as caught:
            ClientSettings({"transport": transport})
        [problem] = _problems(caught)
        assert problem.startswith(expected), problem
        assert str(caught.value).startswith("Invalid ClientSettings:\n")

    def test_a_bad_middleware_names_its_index(self) -> None:
        with pytest.raises(SettingsError) as caught:
            ClientSettings(
                {
                    "transport": {"name": "fake", "kwargs": {"host": "h"}},
                    "middleware": ["fake-mw", {"name": "fake-mw", "kwargs": {"level": "high"}}, "fake-nw"],
                }
            )
        assert _problems(caught) == [
            "middleware.1.kwargs.level: Not an integer",
            "middleware.2: No client middleware plugin named 'fake-nw' is installed; installed: fake-mw. "
            "Did you mean 'fake-mw'?",
        ]

    def test_nested_server_settings_name_the_nested_key(self) -> None:
        with pytest.raises(SettingsError) as caught:
            ServerSettings({"transport": "fake", "harakiri": {"timeout": -1}})
        assert _problems(caught) == ["harakiri.timeout: Value not >= 0"]

    def test_every_problem_is_reported_at_once(self) -> None:
        with pytest.raises(SettingsError) as caught:
            ServerSettings(
                {
                    "transport": {"name": "fake", "kwargs": {"surprise": 1}},
                    "harakiri": {"shutdown_grace": 0},
                    "extra_fields_to_redact": ["password"],
                    "heartbeat_fiel": "/tmp/hb",
                }
            )
        assert _problems(caught) == [
            "heartbeat_fiel: Unknown setting (did you mean 'heartbeat_file'?)",
            "extra_fields_to_redact: Not a set or frozenset",
            "harakiri.shutdown_grace: Value not > 0",
            "transport.kwargs: Extra keys present: surprise",
        ]

    def test_an_unknown_setting_without_a_close_match(self) -> None:
        with pytest.raises(SettingsError) as caught:
            ClientSettings({"transport": {"name": "fake", "kwargs": {"host": "h"}}, "zzz": 1})
        assert _problems(caught) == ["zzz: Unknown setting"]

    def test_a_missing_required_setting(self) -> None:
        class Strict(SOASettings):
            schema: SettingsSchema = {"needed": fields.Integer()}

        with pytest.raises(SettingsError) as caught:
            Strict({})
        assert _problems(caught) == ["needed: Missing required setting"]

    def test_a_bad_metrics_path(self) -> None:
        with pytest.raises(SettingsError, match=re.escape("metrics.path: Cannot import module 'no_such_metrics'")):
            ClientSettings(
                {"transport": {"name": "fake", "kwargs": {"host": "h"}}, "metrics": {"path": "no_such_metrics:R"}}
            )

    def test_settings_must_be_a_dict(self) -> None:
        with pytest.raises(SettingsError, match="Settings must be a dict, not list"):
            ClientSettings([])  # type: ignore[arg-type]

    def test_a_settings_error_is_a_configuration_error_and_a_value_error(self) -> None:
        assert issubclass(SettingsError, ConfigurationError)
        assert issubclass(SettingsError, ValueError)
        assert ClientSettings.ImproperlyConfigured is SettingsError


def test_a_plugin_reference_needs_a_known_kind() -> None:
    with pytest.raises(ValueError, match="Unknown plugin kind 'transport'"):
        PluginReference("transport", ClientTransport)
    assert PluginReference("client transport", ClientTransport).introspect() == {
        "type": "plugin reference",
        "kind": "client transport",
        "description": None,
    }
