"""Client settings (one dict per service in ``Client(config)``)."""

from __future__ import annotations

from conformity import fields
from conformity.settings import SettingsData, SettingsSchema

from pysoa.client.middleware import ClientMiddleware
from pysoa.common.settings import SOASettings
from pysoa.common.transport.base import ClientTransport
from pysoa.plugins.reference import PluginReference

__all__ = ["ClientSettings"]


class ClientSettings(SOASettings):
    schema: SettingsSchema = {
        "transport": PluginReference("client transport", ClientTransport, description="The transport to the service"),
        "middleware": fields.List(
            PluginReference("client middleware", ClientMiddleware),
            description="Client middleware, outermost first",
        ),
    }
    defaults: SettingsData = {
        "transport": "redis",
        "middleware": [],
    }
