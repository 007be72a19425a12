"""Installed but not configured, soa-otel costs nothing per call: no wrapper in the stacks, no telemetry loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent(
    """
    import sys

    from pysoa.client import Client
    from pysoa.plugins import get_plugin_manager
    from pysoa.server import Server

    BACK = "plain"

    class BackServer(Server):
        service_name = BACK
        action_class_map = {"hello": lambda request: {"hello": "world"}}

    transport = {"name": "local", "kwargs": {"server_class": BackServer, "server_settings": {}}}
    client = Client({BACK: {"transport": transport}})
    assert client.call_action(BACK, "hello").body["hello"] == "world"
    assert "otel" in get_plugin_manager().names("client middleware")  # installed and registered
    handler = client.handlers[BACK]
    assert handler.middleware == [] and handler._send_stack == handler._base_send_request
    server = handler.transport.server
    assert server.middleware == [] and server._job_stack == server.execute_job
    # soa-otel's span and metric logic (the only module of it that imports OpenTelemetry) was never loaded.
    # (OpenTelemetry itself may be: redis-py imports it when it is installed, for its own instrumentation.)
    assert "soa_otel._telemetry" not in sys.modules
    print("OK")
    """
)


def test_an_installed_but_unused_soa_otel_adds_nothing_to_the_call_path() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "OK", result.stderr
