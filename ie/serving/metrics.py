"""What the service tells a monitoring system: ``GET /metrics`` in Prometheus's text format, from
``prometheus-client`` (one registry per app, so two services in one process never mix their counts), and one
JSON log line per request on the ``ie.serving.requests`` logger.

The series: ``ie_requests_total`` by path and status, ``ie_request_seconds`` (latency histogram, by path),
``ie_batch_texts`` (texts per Predictor call: how well concurrent requests share the encoder),
``ie_queue_depth`` (requests waiting for a predict worker, read at scrape time) and
``ie_predict_busy_seconds_total`` (time the predict workers spent in the model: its rate over the number of
workers is their utilisation)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger("ie.serving.requests")

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
REQUEST_ID = "x-request-id"  # taken from the request where the caller sets it, else made; echoed in the answer


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], int]):
        self.registry = CollectorRegistry()
        self.requests = Counter("ie_requests", "HTTP requests answered", ["path", "status"], registry=self.registry)
        self.latency = Histogram("ie_request_seconds", "Time from request to answer", ["path"], registry=self.registry)
        self.batch_texts = Histogram(
            "ie_batch_texts", "Texts per Predictor call", buckets=BATCH_BUCKETS, registry=self.registry
        )
        self.busy = Counter(
            "ie_predict_busy_seconds", "Time the predict workers spent in the model", registry=self.registry
        )
        Gauge("ie_queue_depth", "Requests waiting for a predict worker", registry=self.registry).set_function(
            queue_depth
        )

    def batch(self, texts: int, seconds: float) -> None:
        """One Predictor call of ``texts`` texts that took ``seconds``."""
        self.batch_texts.observe(texts)
        self.busy.inc(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self, paths: set[str]):
        """An HTTP middleware that counts and times every request to ``paths`` (the routes; anything else is
        counted under ``other``, so a scan of random URLs cannot grow the series) and logs one JSON line each:
        its id, path, status, milliseconds, and for ``/v1/extract`` the texts and characters it carried
        (``request.state``, set by the route once the body is checked)."""

        async def observe(request, call_next):
            start = time.perf_counter()
            request_id = request.headers.get(REQUEST_ID) or uuid.uuid4().hex
            path = request.url.path if request.url.path in paths else "other"
            status = 500
            try:
                response = await call_next(request)
                status = response.status_code
                response.headers[REQUEST_ID] = request_id
                return response
            finally:
                seconds = time.perf_counter() - start
                self.requests.labels(path, str(status)).inc()
                self.latency.labels(path).observe(seconds)
                if path != "/metrics":
                    log.info(
                        json.dumps(
                            {
                                "id": request_id,
                                "path": path,
                                "status": status,
                                "texts": getattr(request.state, "texts", None),
                                "chars": getattr(request.state, "chars", None),
                                "ms": round(1000 * seconds, 1),
                            }
                        )
                    )

        return observe
