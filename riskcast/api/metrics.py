"""Prometheus metrics: ``GET /metrics``, one registry per :class:`~riskcast.api.runtime.Runtime`.

Most figures are read at scrape time from the counters the components keep anyway
(``runtime.stats()`` and friends) by :class:`RuntimeCollector`, so the hot paths pay nothing
for them. Only what needs a distribution is observed as it happens, once per request, commit
or prediction: HTTP request latency (:class:`HttpMetrics`, a pure-ASGI layer), commit latency
and group size (the group committer's ``on_commit`` hook) and prediction latency (the model
service's ``on_predict`` hook). docs/operations.md lists every name.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from riskcast.api.runtime import Runtime

__all__ = ["HttpMetrics", "RuntimeCollector", "RuntimeMetrics", "router"]

router = APIRouter(tags=["health"])

_LATENCY_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
_GROUP_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000)


class RuntimeMetrics:
    """The registry of one runtime: the scrape-time collector, histograms and process data."""

    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(RuntimeCollector(runtime))
        self.http_seconds = Histogram(
            "riskcast_http_request_duration_seconds",
            "HTTP request latency, from the first byte in to the last byte out",
            ("method", "route", "status"), registry=self.registry, buckets=_LATENCY_BUCKETS)
        self.commit_seconds = Histogram(
            "riskcast_commit_duration_seconds", "Time to commit one group of readings",
            registry=self.registry, buckets=_LATENCY_BUCKETS)
        self.commit_rows = Histogram(
            "riskcast_commit_group_size_readings", "Readings committed together in one group",
            registry=self.registry, buckets=_GROUP_BUCKETS)
        self.predict_seconds = Histogram(
            "riskcast_prediction_duration_seconds", "Time to answer a prediction request",
            ("model",), registry=self.registry, buckets=_LATENCY_BUCKETS)
        runtime.pipeline.committer.on_commit = self.observe_commit
        if runtime.models is not None:
            runtime.models.on_predict = self.observe_prediction

    def observe_commit(self, rows: int, seconds: float) -> None:
        self.commit_seconds.observe(seconds)
        self.commit_rows.observe(rows)

    def observe_prediction(self, model: str, seconds: float) -> None:
        self.predict_seconds.labels(model).observe(seconds)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class RuntimeCollector(Collector):
    """Reads the runtime's own counters when Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        pipeline = rt.pipeline
        committer = pipeline.committer
        yield _counter("riskcast_readings_accepted", "Readings accepted and committed",
                       pipeline.accepted_total)
        yield _counter("riskcast_readings_refused", "Readings refused, each with a reason",
                       pipeline.rejected_total)
        yield _counter("riskcast_commits", "Group commits of readings", committer.commits)
        yield _counter("riskcast_committed_readings", "Readings and derived values committed",
                       committer.committed_rows)
        yield _gauge("riskcast_pending_readings", "Readings waiting for a commit",
                     committer.pending_rows)
        yield _gauge("riskcast_pending_readings_limit",
                     "Pending readings past which ingest answers 503", committer.max_pending)
        yield _counter("riskcast_bus_publish_failures", "Bus publishes that failed",
                       pipeline.publish_failures)
        derive = pipeline.derive
        yield _gauge("riskcast_derive_queue", "Derivations waiting to run", derive.pending)
        yield _counter("riskcast_derive_runs", "Derivations run", derive.runs)
        yield _counter("riskcast_derive_failures", "Derivations that failed", derive.failures)
        yield _counter("riskcast_retention_deleted_readings", "Readings deleted by retention",
                       rt.retention.deleted)
        yield from self._streams(rt)
        yield from self._alerts(rt)
        yield from self._sources(rt)
        yield from self._backups(rt)
        yield _gauge("riskcast_draining", "1 while the server shuts down", int(rt.draining))

    def _streams(self, rt: Runtime) -> Iterator[Metric]:
        hub = rt.hub.stats()
        connections = GaugeMetricFamily("riskcast_stream_connections",
                                        "Live WebSocket and SSE connections", labels=["transport"])
        by_transport = rt.hub.transports()
        for transport in ("ws", "sse"):
            connections.add_metric([transport], by_transport.get(transport, 0))
        yield connections
        yield _gauge("riskcast_stream_channels", "Channels with a live subscriber",
                     hub["channels"])
        yield _counter("riskcast_stream_events", "Events the hub received from the bus",
                       hub["events"])
        yield _counter("riskcast_stream_deliveries", "Events written to subscribers",
                       hub["delivered"])
        yield _counter("riskcast_stream_dropped_subscribers",
                       "Subscribers dropped as too slow", hub["dropped_slow"])

    def _alerts(self, rt: Runtime) -> Iterator[Metric]:
        stats = rt.alerts.stats()
        alerts = GaugeMetricFamily("riskcast_alerts", "Alerts by state", labels=["state"])
        for state, count in stats["alerts"].items():
            alerts.add_metric([state], count)
        yield alerts
        yield _gauge("riskcast_alert_rules", "Alert rules loaded", stats["rules"])
        events = stats["events"]
        yield _gauge("riskcast_alert_queue", "Events waiting for rule evaluation",
                     events["queued"])
        yield _counter("riskcast_alert_events_dropped",
                       "Events dropped because evaluation fell behind", events["dropped"])
        yield _gauge("riskcast_outbox_pending", "Notifications waiting to be sent",
                     rt.alerts.outbox.pending)
        notes = CounterMetricFamily("riskcast_notifications", "Notification attempts by outcome",
                                    labels=["outcome"])
        for outcome, count in stats["notifications"].items():
            notes.add_metric([outcome], count)
        yield notes

    def _sources(self, rt: Runtime) -> Iterator[Metric]:
        if rt.mqtt is None:
            return
        mqtt = rt.mqtt.stats()
        yield _gauge("riskcast_mqtt_connected", "1 while subscribed to the broker",
                     int(mqtt["connected"]))
        yield _counter("riskcast_mqtt_messages", "MQTT messages received", mqtt["messages"])
        yield _counter("riskcast_mqtt_malformed", "MQTT messages that could not be decoded",
                       mqtt["malformed"])
        yield _counter("riskcast_mqtt_reconnects", "Reconnections to the broker",
                       mqtt["reconnects"])

    def _backups(self, rt: Runtime) -> Iterator[Metric]:
        job = getattr(rt, "backups", None)
        if job is None:
            return
        yield _counter("riskcast_backups", "Scheduled backups written", job.runs)
        yield _counter("riskcast_backup_failures", "Scheduled backups that failed",
                       job.failures)
        if job.last_success is not None:
            yield _gauge("riskcast_backup_last_success_timestamp_seconds",
                         "When the last scheduled backup finished", job.last_success)
            yield _gauge("riskcast_backup_last_size_bytes", "Size of the last backup",
                         job.last_size)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class HttpMetrics:
    """Pure-ASGI layer observing each HTTP request's latency by method, route and status.

    The route is the matched path template (``/api/v1/sites/{site_id}``), so the number of
    series stays bounded whatever paths clients send.
    """

    def __init__(self, app: ASGIApp, metrics: RuntimeMetrics) -> None:
        self.app = app
        self.histogram = metrics.http_seconds
        #: Children by (method, route, status): ``labels()`` costs more than the observation.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            key = (scope["method"], route, status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.histogram.labels(key[0], route, str(status))
            child.observe(elapsed)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text exposition of this server's registry."""
    registry: RuntimeMetrics = request.app.state.runtime.metrics
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)
