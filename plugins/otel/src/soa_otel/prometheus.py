"""Prometheus scraping for forked workers: one endpoint per supervisor, summing every worker's metrics.

How it works, and why this way:

* **Each worker** calls :func:`export_worker_metrics` once it is forked (in ``Server.setup``). That
  installs an OpenTelemetry SDK meter provider whose periodic reader writes the worker's
  *cumulative* metrics to ``<directory>/worker-<pid>.json`` every ``interval`` seconds and when the
  worker exits (written to a temporary file and renamed, so a reader never sees half a file).
* **The supervisor** calls :func:`start_metrics_endpoint` in ``Server.pre_fork``. It starts one
  small child process (``soa-otel-metrics``) that serves ``GET /metrics`` on one port and, per
  scrape, reads every worker file and adds them up: counters and histograms over every worker that
  ever wrote (a dead worker's counts stay, so totals never go backwards when a worker is
  respawned), up-down counters and gauges (jobs in flight) over the live workers only.

The endpoint is a separate process rather than a thread of the supervisor because the supervisor
forks workers for its whole life: a fork taken while another thread holds a lock (logging's, the
import lock) leaves the child holding a lock nobody will release. The files decouple the workers
from the endpoint: a worker that hangs or dies never blocks a scrape, and no shared memory or
locking between processes is needed. prometheus_client's multiprocess mode was the alternative; it
needs its own instruments (not OpenTelemetry's) and an environment variable set before import in
every process, and it is not a dependency here. Figures are at most ``interval`` seconds old.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
    Sum,
)

__all__ = [
    "WorkerFileExporter",
    "collect",
    "export_worker_metrics",
    "main",
    "render",
    "serve_metrics",
    "start_metrics_endpoint",
]

_FILE_PREFIX = "worker-"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# --- the worker side -------------------------------------------------------------------------------


def _snapshot(metrics_data: MetricsData) -> list[dict[str, Any]]:
    """OpenTelemetry ``MetricsData`` as plain JSON-able dicts (cumulative points only)."""
    found: list[dict[str, Any]] = []
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.data
                entry: dict[str, Any] = {"name": metric.name, "description": metric.description, "unit": metric.unit}
                if isinstance(data, Histogram):
                    entry["type"] = "histogram"
                    entry["points"] = [
                        {
                            "attributes": dict(point.attributes or {}),
                            "bounds": list(point.explicit_bounds),
                            "buckets": list(point.bucket_counts),
                            "sum": point.sum,
                            "count": point.count,
                        }
                        for point in data.data_points
                    ]
                elif isinstance(data, Sum | Gauge):
                    monotonic = isinstance(data, Sum) and data.is_monotonic
                    entry["type"] = "counter" if monotonic else "gauge"
                    entry["points"] = [
                        {"attributes": dict(point.attributes or {}), "value": point.value} for point in data.data_points
                    ]
                else:  # exponential histograms are not produced by soa-otel's instruments
                    continue
                found.append(entry)
    return found


class WorkerFileExporter(MetricExporter):
    """Writes this process's cumulative metrics to ``<directory>/worker-<pid>.json`` on each export."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        super().__init__()
        self.directory = Path(directory)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        payload = json.dumps({"pid": os.getpid(), "metrics": _snapshot(metrics_data)})
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{_FILE_PREFIX}{os.getpid()}.json"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(payload)
            os.replace(temporary, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


def export_worker_metrics(directory: str | os.PathLike[str], interval: float = 5.0) -> MeterProvider:
    """Install, as the global meter provider of this (worker) process, one that writes to ``directory``.

    Call it once per worker process, after the fork (``Server.setup`` is the place). Returns the
    SDK ``MeterProvider``. Its periodic reader exports every ``interval`` seconds and once more
    when the process exits.
    """
    if interval <= 0:
        raise ValueError(f"interval must be > 0 seconds, not {interval!r}")
    exporter = WorkerFileExporter(directory)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval * 1000)
    provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(provider)
    return provider


# --- the endpoint side ------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_workers(directory: Path) -> list[tuple[bool, list[dict[str, Any]]]]:
    workers = []
    for path in sorted(directory.glob(f"{_FILE_PREFIX}*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # removed or replaced while listing: the next scrape sees it
        workers.append((_alive(int(document["pid"])), document["metrics"]))
    return workers


def collect(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every worker file in ``directory`` added up, per metric and attribute set (see the module doc)."""
    merged: dict[str, dict[str, Any]] = {}
    for alive, worker_metrics in _read_workers(Path(directory)):
        for metric in worker_metrics:
            if metric["type"] == "gauge" and not alive:
                continue  # a dead worker has no jobs in flight
            target = merged.setdefault(
                metric["name"], {**{k: metric[k] for k in ("name", "description", "unit", "type")}, "series": {}}
            )
            for point in metric["points"]:
                key = tuple(sorted(point["attributes"].items()))
                series = target["series"].get(key)
                if series is None:
                    target["series"][key] = {**point, "buckets": list(point.get("buckets", ()))}
                elif metric["type"] == "histogram":
                    if series["bounds"] != point["bounds"]:
                        continue  # a worker of another version with other buckets: not addable
                    series["buckets"] = [a + b for a, b in zip(series["buckets"], point["buckets"], strict=True)]
                    series["sum"] += point["sum"]
                    series["count"] += point["count"]
                else:
                    series["value"] += point["value"]
    return [{**metric, "series": list(metric["series"].values())} for metric in merged.values()]


def _metric_name(name: str, unit: str, kind: str) -> str:
    base = "".join(c if c.isalnum() else "_" for c in name)
    if unit == "s" and not base.endswith("_seconds"):
        base += "_seconds"
    if unit == "By" and not base.endswith("_bytes"):
        base += "_bytes"
    if kind == "counter":
        base += "_total"
    return base


def _label_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _label_value(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(attributes: dict[str, Any], extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [f'{_label_name(k)}="{_label_value(v)}"' for k, v in sorted(attributes.items())]
    pairs.extend(f'{k}="{v}"' for k, v in extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(merged: Sequence[dict[str, Any]]) -> str:
    """The Prometheus text exposition format (version 0.0.4) of :func:`collect`'s result."""
    lines: list[str] = []
    for metric in sorted(merged, key=lambda m: m["name"]):
        name = _metric_name(metric["name"], metric["unit"], metric["type"])
        family = name.removesuffix("_total")
        help_text = metric["description"].replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {family} {help_text}")
        lines.append(f"# TYPE {family} {metric['type']}")
        for series in metric["series"]:
            attributes = series["attributes"]
            if metric["type"] == "histogram":
                cumulative = 0
                for bound, count in zip([*series["bounds"], math.inf], series["buckets"], strict=True):
                    cumulative += count
                    lines.append(f"{name}_bucket{_labels(attributes, [('le', _number(bound))])} {cumulative}")
                lines.append(f"{name}_sum{_labels(attributes)} {_number(series['sum'])}")
                lines.append(f"{name}_count{_labels(attributes)} {series['count']}")
            else:
                lines.append(f"{name}{_labels(attributes)} {_number(series['value'])}")
    return "\n".join(lines) + "\n"


def serve_metrics(
    directory: str | os.PathLike[str], port: int, host: str = "127.0.0.1", parent_pid: int | None = None
) -> None:
    """Serve ``GET /metrics`` for the worker files in ``directory`` until killed (or ``parent_pid`` exits).

    Stale files of an earlier run are removed first, so that a restarted service starts from zero.
    """
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob(f"{_FILE_PREFIX}*.json"):
        stale.unlink(missing_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "Only /metrics is served here")
                return
            body = render(collect(path)).encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None  # one line per scrape is noise

    server = ThreadingHTTPServer((host, port), Handler)
    if parent_pid is not None:
        # Stop with the supervisor, however it ends (even SIGKILL, which leaves this process behind).
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            server.shutdown()

        threading.Thread(target=watch, daemon=True, name="soa-otel-parent-watch").start()
    print(f"READY http://{host}:{server.server_address[1]}/metrics", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def start_metrics_endpoint(
    directory: str | os.PathLike[str], port: int, host: str = "127.0.0.1", timeout: float = 10.0
) -> subprocess.Popen[str]:
    """Start the scrape endpoint as a child process of this one (call it in ``Server.pre_fork``).

    Returns once the endpoint listens; raises :class:`RuntimeError` naming the problem (a port in
    use, say) otherwise. The child stops when this process exits.
    """
    # stderr goes to a file: nobody reads a pipe once the endpoint runs, and a full pipe would block it.
    with tempfile.TemporaryFile(mode="w+") as errors:
        return _start_endpoint(errors, directory, port, host, timeout)


def _start_endpoint(
    errors: Any, directory: str | os.PathLike[str], port: int, host: str, timeout: float
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "soa_otel.prometheus",
            "--directory",
            str(directory),
            "--port",
            str(port),
            "--host",
            host,
            "--parent-pid",
            str(os.getpid()),
        ],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert process.stdout is not None
    # No thread: the supervisor forks workers afterwards and must stay single-threaded.
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if readable else ""
    process.stdout.close()
    if not line.startswith("READY"):
        process.kill()
        process.wait()
        errors.seek(0)
        problem = errors.read().strip().splitlines()
        raise RuntimeError(
            f"the soa-otel metrics endpoint on {host}:{port} did not start: {problem[-1] if problem else 'no output'}"
        )
    return process


def main(argv: Sequence[str] | None = None) -> None:
    """``soa-otel-metrics --directory DIR --port PORT [--host HOST]``: the scrape endpoint on its own."""
    parser = argparse.ArgumentParser(prog="soa-otel-metrics", description=main.__doc__)
    parser.add_argument("--directory", required=True, help="where the workers write their metrics files")
    parser.add_argument("--port", required=True, type=int, help="the port to serve /metrics on")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    serve_metrics(args.directory, args.port, args.host, args.parent_pid)


if __name__ == "__main__":
    main()
