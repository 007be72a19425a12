"""soa-otel: OpenTelemetry traces and metrics for soa-core, and a Prometheus endpoint for forked workers.

Select the middleware by name in client and server settings: ``'middleware': ['otel']``. See the
package README for the spans, metrics and settings.
"""

from __future__ import annotations

__all__: list[str] = []
