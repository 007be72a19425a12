"""Server settings (``SOA_SERVER_SETTINGS``), with PySOA 1.4's keys and defaults."""

from __future__ import annotations

from conformity import fields
from conformity.fields.logging import PYTHON_LOGGING_CONFIG_SCHEMA, PythonLogLevel
from conformity.settings import SettingsData, SettingsSchema

from pysoa.common.settings import SOASettings
from pysoa.common.transport.base import ServerTransport
from pysoa.plugins.reference import PluginReference
from pysoa.server.middleware import ServerMiddleware

__all__ = ["ServerSettings"]


class ServerSettings(SOASettings):
    schema: SettingsSchema = {
        "transport": PluginReference("server transport", ServerTransport, description="Where requests come from"),
        "middleware": fields.List(
            PluginReference("server middleware", ServerMiddleware),
            description="Server middleware, outermost first",
        ),
        "client_routing": fields.SchemalessDictionary(
            key_type=fields.UnicodeString(),
            value_type=fields.SchemalessDictionary(),
            description="Client settings per service, for request.client in actions",
        ),
        "logging": PYTHON_LOGGING_CONFIG_SCHEMA,
        "harakiri": fields.Dictionary(
            {
                "timeout": fields.Integer(gte=0, description="Seconds a job may run; 0 disables"),
                "shutdown_grace": fields.Integer(gt=0, description="Seconds to finish after harakiri"),
            }
        ),
        "request_log_success_level": PythonLogLevel(),
        "request_log_error_level": PythonLogLevel(),
        "transport_outage_give_up_after_seconds": fields.Nullable(
            fields.Float(
                gt=0,
                description=(
                    "Seconds a worker keeps retrying a failing transport (Redis down) before it exits with "
                    "status 1; null (the default): it never gives up"
                ),
            )
        ),
        "async_jobs_per_worker": fields.Nullable(
            fields.Integer(
                gt=0,
                description=(
                    "Jobs a worker runs at once (async actions await concurrently; a sync action blocks the "
                    "others while it runs). null (the default): 16 when the service has async actions and its "
                    "transport and middleware support it, else 1. Above 1 needs a transport with an async server side"
                ),
            )
        ),
        "heartbeat_file": fields.Nullable(fields.UnicodeString(description="{{pid}} and {{fid}} are replaced")),
        "coroutine_middleware": fields.List(
            fields.Dictionary(
                {
                    "path": fields.UnicodeString(),
                    "kwargs": fields.SchemalessDictionary(key_type=fields.UnicodeString()),
                },
                optional_keys=("kwargs",),
            ),
            description="Coroutine middleware for request.run_coroutine, outermost first",
        ),
        "extra_fields_to_redact": fields.Set(
            fields.UnicodeString(),
            description="Keys whose values are masked in logs, beside the built-in ones",
        ),
    }
    defaults: SettingsData = {
        "transport": "redis",
        "middleware": [],
        "client_routing": {},
        "logging": {
            "version": 1,
            "formatters": {
                "console": {
                    "format": "%(asctime)s %(levelname)7s %(correlation_id)s %(request_id)s: %(message)s",
                },
                "syslog": {
                    "format": (
                        "%(service_name)s_service: %(name)s %(levelname)s %(module)s %(process)d "
                        "correlation_id %(correlation_id)s request_id %(request_id)s %(message)s"
                    ),
                },
            },
            "filters": {
                "pysoa_logging_context_filter": {"()": "pysoa.common.logging.PySOALogContextFilter"},
            },
            "handlers": {
                "console": {
                    "level": "INFO",
                    "class": "logging.StreamHandler",
                    "formatter": "console",
                    "filters": ["pysoa_logging_context_filter"],
                },
            },
            "loggers": {},
            "root": {"handlers": ["console"], "level": "INFO"},
            "disable_existing_loggers": False,
        },
        "harakiri": {"timeout": 300, "shutdown_grace": 30},
        "request_log_success_level": "INFO",
        "request_log_error_level": "INFO",
        "heartbeat_file": None,
        "async_jobs_per_worker": None,
        "transport_outage_give_up_after_seconds": None,
        "extra_fields_to_redact": set(),
        "coroutine_middleware": [{"path": "pysoa.server.coroutine:DefaultCoroutineMiddleware"}],
    }
