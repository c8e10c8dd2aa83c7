"""The HTTP API over a Predictor (FastAPI; OpenAPI at ``/docs``).

``POST /v1/extract`` takes ``{"text": "..."}`` (answers one prediction) or ``{"texts": [...]}`` (answers
``{"predictions": [...]}``), each prediction the Predictor's JSON: entities with character offsets into
the text sent, relations with their head and tail entities. ``GET /v1/health`` says the service is up and
how it batches; ``GET /v1/schema`` the labels, relation signatures and what the model card records;
``GET /`` a page where a person pastes text and sees the entities highlighted and the relations listed;
``GET /metrics`` what a Prometheus server scrapes (:mod:`ie.serving.metrics`, which also logs each request).

Bad input is never a 500: every error is ``{"error": {"field": ..., "message": ...}}`` with 422 (not
what the API takes), or 413 (a body over ``max_body_bytes``, a text over ``max_chars``, more texts than
``max_texts``), checked before anything reaches the model.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from ie.inference.inputs import DEFAULT_MAX_CHARS, InputError, check_text
from ie.runs import METRICS_FILE
from ie.serving.batcher import MicroBatcher, check_batching
from ie.serving.metrics import ServiceMetrics

PAGE = Path(__file__).with_name("page.html")  # one self-contained page: no external assets
ROUTES = {"/", "/v1/extract", "/v1/health", "/v1/schema", "/metrics"}  # what the metrics count by path


@dataclass(frozen=True)
class Limits:
    max_chars: int = DEFAULT_MAX_CHARS  # per text
    max_texts: int = 256  # per request
    max_body_bytes: int = 4_000_000
    max_batch_texts: int = 64  # per Predictor call, over the requests combined
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for others
    predict_workers: int = 1  # batches predicted at once

    def __post_init__(self):
        check_batching(self.max_batch_texts, self.max_wait_ms, self.predict_workers)


class ExtractRequest(BaseModel):
    """Exactly one of ``text`` and ``texts``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: str | None = None
    texts: list[str] | None = None


class RequestError(Exception):
    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def error_response(status: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 before it is parsed, whether or
    not its Content-Length says so (a chunked body is read up to the limit, then refused)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self._too_large(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send):
        message = f"request body over max_body_bytes={self.max_bytes:,}; send fewer or shorter texts per request"
        await error_response(413, "body", message)(scope, receive, send)


def _field(location: tuple) -> str:
    parts = [str(p) for p in location if p != "body"]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "body"


def checked_texts(request: ExtractRequest, limits: Limits) -> list[str]:
    if (request.text is None) == (request.texts is None):
        raise RequestError(422, "body", 'give exactly one of "text" (a string) or "texts" (a list of strings)')
    if request.texts is not None:
        if not request.texts:
            raise RequestError(422, "texts", '"texts" is empty; give at least one text')
        if len(request.texts) > limits.max_texts:
            raise RequestError(413, "texts", f"{len(request.texts)} texts, more than max_texts={limits.max_texts}")
    named = (
        [("text", request.text)]
        if request.texts is None
        else [(f"texts[{i}]", text) for i, text in enumerate(request.texts)]
    )
    for field, text in named:
        try:
            check_text(text, field, limits.max_chars)
        except InputError as error:
            raise RequestError(413 if len(text) > limits.max_chars else 422, field, str(error)) from None
    return [text for _, text in named]


def model_info(predictor, run_dir: str | Path | None) -> dict:
    """What /v1/schema says of the model: the schema, how it runs, and the run's recorded scores."""
    info: dict = {
        "schema": predictor.schema.to_dict(),
        "backends": predictor.backends,
        "precision": predictor.precision,
        "precision_reason": getattr(predictor, "precision_reason", None),
        "decoding": predictor.decoding,
        "segmenter": predictor.segmenter,
        "max_chars": predictor.max_chars,
    }
    if run_dir is not None:
        info["run"] = str(run_dir)
        metrics = Path(run_dir) / METRICS_FILE
        if metrics.exists():
            info["metrics"] = json.loads(metrics.read_text(encoding="utf-8"))
    return info


def create_app(predictor, limits: Limits = Limits(), run_dir: str | Path | None = None) -> FastAPI:
    metrics = ServiceMetrics(lambda: batcher.waiting())
    batcher = MicroBatcher(
        predictor.predict, limits.max_batch_texts, limits.max_wait_ms, limits.predict_workers, on_batch=metrics.batch
    )
    limits = replace(limits, max_chars=min(limits.max_chars, predictor.max_chars or limits.max_chars))
    page_html = PAGE.read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()  # on SIGTERM uvicorn stops accepting, then the batcher finishes what it holds

    app = FastAPI(title="ie: entities and relations from news", version="1", lifespan=lifespan)
    app.state.batcher, app.state.limits = batcher, limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.middleware("http")(metrics.middleware(ROUTES))  # added last, so outermost: it counts BodyLimit's refusals too
    info = model_info(predictor, run_dir)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        first = error.errors()[0]
        return error_response(422, _field(tuple(first.get("loc", ()))), first.get("msg", "invalid request"))

    @app.exception_handler(RequestError)
    async def refused(request: Request, error: RequestError):
        return error_response(error.status, error.field, error.message)

    @app.post("/v1/extract")
    async def extract(request: ExtractRequest, http: Request):
        texts = checked_texts(request, limits)
        http.state.texts, http.state.chars = len(texts), sum(map(len, texts))  # for the request's log line
        predictions = await batcher.submit(texts)
        # plain JSON types already: a JSONResponse skips FastAPI's walk of the answer (jsonable_encoder)
        if request.texts is None:
            return JSONResponse(predictions[0].to_dict())
        return JSONResponse({"predictions": [p.to_dict() for p in predictions]})

    @app.get("/v1/health")
    async def health():
        stats = batcher.stats
        return {
            "status": "ok",
            "backends": predictor.backends,
            "precision": predictor.precision,
            "precision_reason": getattr(predictor, "precision_reason", None),
            "predict_workers": limits.predict_workers,
            "threads": getattr(predictor, "threads", None),
            "batches": stats.batches,
            "texts": stats.texts,
            "largest_batch": stats.largest,
            "requests_per_batch": stats.sizes,
        }

    @app.get("/v1/schema")
    async def schema():
        return info

    @app.get("/metrics", include_in_schema=False)
    async def scrape():
        return Response(metrics.exposition(), media_type=metrics.content_type)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(page_html)

    return app
