"""Run the example service and call it in every call style: ``python -m example_service.demo``.

By default the demo starts a private ``redis-server`` on a free loopback port, starts the service
as two worker processes over Redis (``python -m example_service.standalone -f 2``), calls it,
then stops everything. ``--redis-url URL`` uses a Redis you already run instead.
``--transport zmq`` runs the workers over ZeroMQ, with nothing else to install or start.
``--local`` runs the service inside this process over the local transport (no Redis needed, and
the fallback when ``redis-server`` is not installed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from pysoa.client import Client
from pysoa.errors import TransportError


def _show(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def run_calls(client: Client) -> None:
    """Make one call of each style and print what comes back."""
    response = client.call_action("example", "square", {"number": 7})
    _show("call_action('example', 'square', {'number': 7})", response.body)

    job = client.call_actions(
        "example",
        [{"action": "square", "body": {"number": 3}}, {"action": "call_service", "body": {"number": 4}}],
        correlation_id="demo-correlation-id",
    )
    _show("call_actions (one job, run serially by one server)", [a.body for a in job.actions])

    parallel = client.call_actions_parallel("example", [{"action": "square", "body": {"number": n}} for n in (1, 2, 3)])
    _show("call_actions_parallel (one job per action)", [a.body for a in parallel])

    jobs = client.call_jobs_parallel(
        [
            {"service_name": "example", "actions": [{"action": "square", "body": {"number": 10}}]},
            {"service_name": "example", "actions": [{"action": "status", "body": {"verbose": True}}]},
        ]
    )
    _show("call_jobs_parallel (several jobs at once)", [[a.body for a in j.actions] for j in jobs])

    errors = client.call_action("example", "square", {"number": "seven"}, raise_action_errors=False).errors
    _show("a validation error", [{"code": e.code, "field": e.field, "message": e.message} for e in errors])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _private_redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary is not None
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="example-redis-") as directory:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(10)


@contextlib.contextmanager
def _workers(environment: dict[str, str], count: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "example_service.standalone", "-s", "example_service.settings", "-f", str(count)]
    shown = " ".join(f"{k}={v}" for k, v in environment.items())
    print(f"$ {shown} {' '.join(command[1:])}")
    supervisor = subprocess.Popen(command, env={**os.environ, **environment})
    try:
        yield supervisor
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(30)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()


def _wait_until_serving(client: Client, supervisor: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.call_action("example", "status", {"verbose": False}, timeout=1)
            return
        except TransportError:
            if supervisor.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the example service did not start") from None


def _serve_and_call(name: str, environment: dict[str, str], transport: dict[str, Any], workers: int) -> None:
    with _workers(environment, workers) as supervisor:
        client = Client({"example": {"transport": transport}})
        _wait_until_serving(client, supervisor)
        print(f"The example service is answering over {name} with {workers} worker processes")
        run_calls(client)
        client.close()
        print(f"\n$ soa call example square '{{\"number\": 12}}' --transport '{json.dumps(transport)}'")
        sys.stdout.flush()
        command = [sys.executable, "-m", "pysoa", "call", "example", "square", '{"number": 12}']
        subprocess.run([*command, "--transport", json.dumps(transport)], check=True)


def demo_redis(redis_url: str | None, workers: int) -> None:
    with contextlib.ExitStack() as stack:
        if redis_url is None:
            redis_url = stack.enter_context(_private_redis())
            print(f"Started a private redis-server at {redis_url}")
        transport = {"name": "redis", "kwargs": {"url": redis_url}}
        _serve_and_call("Redis", {"SOA_TRANSPORT": "redis", "REDIS_URL": redis_url}, transport, workers)


def demo_zmq(workers: int) -> None:
    from example_service.settings import transport_settings

    with tempfile.TemporaryDirectory(prefix="example-zmq-") as directory:
        endpoint = f"ipc://{directory}/example.sock"
        environment = {"SOA_TRANSPORT": "zmq", "ZMQ_ENDPOINT": endpoint}
        os.environ.update(environment)  # transport_settings reads it, as the workers do
        _serve_and_call("ZeroMQ", environment, transport_settings("zmq"), workers)


def demo_local() -> None:
    from example_service.server import Server
    from example_service.settings import local_settings

    client = Client(
        {
            "example": {
                "transport": {"name": "local", "kwargs": {"server_class": Server, "server_settings": local_settings()}}
            }
        }
    )
    print("The example service over the local transport (in this process)")
    run_calls(client)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true", help="run in this process over the local transport")
    parser.add_argument("--transport", choices=("redis", "zmq"), default="redis", help="the workers' transport")
    parser.add_argument("--redis-url", help="use this Redis instead of starting a private one")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    if args.local:
        demo_local()
        return
    if args.transport == "zmq":
        demo_zmq(args.workers)
        return
    if args.redis_url is None and shutil.which("redis-server") is None:
        print("redis-server is not installed; running over the local transport instead")
        demo_local()
        return
    demo_redis(args.redis_url, args.workers)


if __name__ == "__main__":
    main()
