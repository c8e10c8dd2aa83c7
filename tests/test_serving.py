"""The HTTP service: the Predictor's JSON over /v1/extract, concurrent requests batched together, and bad
input answered 413/422 with the field named, never 500."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import httpx
import pytest
from fastapi.testclient import TestClient

from ie.inference.predictor import Predictor
from ie.serving.app import Limits, create_app
from ie.serving.batcher import MicroBatcher

from tests.conftest import ROOT, SEEDS, TEST_DOC, free_port

TEXTS = [
    "Denis Manturov met Emomali Rahmon in Dushanbe on July 15.",
    "",
    "The Lipetsk Chamber of Commerce and Industry signed a memorandum with Khujand.",
]


@pytest.fixture(scope="module")
def predictor(run_dir):
    return Predictor.from_pretrained(run_dir)


@pytest.fixture(scope="module")
def client(predictor, run_dir):
    limits = Limits(max_chars=1000, max_texts=8, max_body_bytes=20_000, max_batch_texts=16, max_wait_ms=300)
    with TestClient(create_app(predictor, limits, run_dir)) as test_client:
        yield test_client


def test_extract_returns_the_predictors_json_for_one_text_or_many(client, predictor):
    one = client.post("/v1/extract", json={"text": TEXTS[0]})
    assert one.status_code == 200 and one.json() == predictor(TEXTS[0]).to_dict()
    many = client.post("/v1/extract", json={"texts": TEXTS})
    assert many.status_code == 200
    assert many.json() == {"predictions": [p.to_dict() for p in predictor.predict(TEXTS)]}
    for entity in many.json()["predictions"][0]["entities"]:
        assert TEXTS[0][entity["start"] : entity["end"]] == entity["text"]


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer(client, predictor):
    texts = [f"Denis Manturov met Emomali Rahmon in Dushanbe on July {i + 1}." for i in range(12)]
    before = client.get("/v1/health").json()["batches"]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda t: client.post("/v1/extract", json={"text": t}), texts))
    assert [a.json() for a in answers] == [p.to_dict() for p in predictor.predict(texts)]
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["largest_batch"] > 1  # waited 300 ms for the others
    assert health["batches"] - before < len(texts)


@pytest.mark.parametrize(
    "body, status, field, message",
    [
        ({"text": 42}, 422, "text", "string"),
        ({"texts": ["ok", 7]}, 422, "texts[1]", "string"),
        ({"texts": []}, 422, "texts", "empty"),
        ({}, 422, "body", "exactly one of"),
        ({"text": "a", "texts": ["b"]}, 422, "body", "exactly one of"),
        ({"text": "a", "lang": "en"}, 422, "lang", "Extra inputs"),
        ({"texts": ["x"] * 9}, 413, "texts", "max_texts=8"),
        ({"texts": ["ok", "x" * 1001]}, 413, "texts[1]", "max_chars=1,000"),
        ({"text": "\ud800"}, 422, "text", "lone surrogate"),
    ],
)
def test_bad_requests_name_the_field_and_never_reach_the_model(client, body, status, field, message):
    answer = client.post("/v1/extract", content=json.dumps(body), headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and message in error["message"]


def test_bodies_over_the_limit_and_broken_json_are_refused(client):
    big = json.dumps({"text": "x" * 30_000})
    answer = client.post("/v1/extract", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["field"] == "body"

    def chunks():  # no Content-Length: the limit still holds
        for _ in range(30):
            yield b"x" * 1000

    answer = client.post("/v1/extract", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    answer = client.post("/v1/extract", content=b'{"text": ', headers={"content-type": "application/json"})
    assert answer.status_code == 422 and "error" in answer.json()


def test_schema_and_health_describe_the_model(client, predictor, run_dir):
    schema = client.get("/v1/schema").json()
    assert schema["schema"] == predictor.schema.to_dict() and schema["run"] == str(run_dir)
    assert schema["backends"] == predictor.backends and "metrics" in schema
    assert client.get("/docs").status_code == 200 and "/v1/extract" in client.get("/openapi.json").json()["paths"]
    health = client.get("/v1/health").json()
    assert health["predict_workers"] == 1 and health["threads"] is None  # as the fixture loaded it


def test_workers_share_the_cores_unless_threads_is_set(monkeypatch):
    from ie.inference import onnx_backend
    from ie.serve import worker_threads

    monkeypatch.setattr(onnx_backend, "threads", lambda: 8)
    assert worker_threads(None, 1) is None  # one worker: the runtime's default, every core
    assert worker_threads(None, 2) == 4 and worker_threads(None, 3) == 2 and worker_threads(None, 16) == 1
    assert worker_threads(3, 2) == 3  # as set


def test_stopping_the_batcher_answers_what_it_holds():
    def slow(texts):
        time.sleep(0.05)
        return [t.upper() for t in texts]

    async def scenario():
        batcher = MicroBatcher(slow, max_batch_texts=2, max_wait_ms=1)
        await batcher.start()
        pending = [asyncio.create_task(batcher.submit([f"t{i}"])) for i in range(5)]
        await asyncio.sleep(0)
        await batcher.stop()
        return [task.result() for task in pending]

    assert asyncio.run(scenario()) == [[f"T{i}"] for i in range(5)]


def test_two_predict_workers_run_two_batches_at_once_and_answer_each_caller():
    running, most = 0, 0
    lock = threading.Lock()

    def slow(texts):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return [t.upper() for t in texts]

    async def scenario():
        batcher = MicroBatcher(slow, max_batch_texts=2, max_wait_ms=0, workers=2)
        await batcher.start()
        answers = await asyncio.gather(*(batcher.submit([f"t{i}"]) for i in range(8)))
        await batcher.stop()
        return answers

    assert asyncio.run(scenario()) == [[f"T{i}"] for i in range(8)]
    assert most == 2


def test_the_command_serves_and_stops_cleanly_on_sigterm(run_dir):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ie.serve", f"run={run_dir}", f"port={port}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read()[-2000:]
                time.sleep(0.5)
        assert health.json()["status"] == "ok"
        text = (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")[:2000]
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/extract", json={"text": text}, timeout=60)
        assert answer.status_code == 200 and answer.json()["text"] == text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so that the exit status says what stopped it
    assert proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in stderr, stderr[-2000:]


def test_the_command_reports_a_missing_run_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ie.serve", f"run={tmp_path / 'nope'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HYDRA_FULL_ERROR": "0"},
    )
    assert proc.returncode == 1 and proc.stderr.strip().startswith("ie.serve: error:")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "setting, message",
    [
        ("predict_workers=0", "predict_workers must be at least 1, got 0"),
        ("max_wait_ms=-1", "max_wait_ms must be at least 0, got -1.0"),
        ("threads=0", "threads must be a whole number of at least 1 (or null: all cores), got 0"),
    ],
)
def test_a_bad_batching_setting_is_one_line_before_the_model_loads(run_dir, setting, message):
    proc = subprocess.run(
        [sys.executable, "-m", "ie.serve", f"run={run_dir}", setting],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HYDRA_FULL_ERROR": "0"},
    )
    assert proc.returncode == 1 and proc.stderr.strip() == f"ie.serve: error: {message}"


class _PageMarks(HTMLParser):
    """The highlighted entities of the page's text (not those in the relations table)."""

    def __init__(self):
        super().__init__()
        self.marks, self.depth, self.in_text, self.open = [], 0, False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "text":
            self.in_text = True
        if self.in_text and tag == "mark":
            self.open = [attrs["data-label"], int(attrs["data-start"]), int(attrs["data-end"]), ""]
        if self.in_text and tag == "sub" and self.open:
            self.open.append("sub")

    def handle_endtag(self, tag):
        if self.in_text and tag == "mark" and self.open:
            self.marks.append(tuple(self.open[:4]))
            self.open = None
        elif tag == "div" and self.in_text and self.open is None:
            self.in_text = False

    def handle_data(self, data):
        if self.open and len(self.open) == 4:  # before the label's <sub>
            self.open[3] += data


def test_the_page_highlights_what_the_api_returns_in_headless_chromium(predictor, run_dir, tmp_path):
    import threading
    from urllib.parse import quote

    import uvicorn

    from tests.test_html_report import _chromium

    chromium = _chromium()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(predictor, run_dir=run_dir), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 60
        while not server.started:
            assert time.time() < deadline
            time.sleep(0.1)
        text = TEXTS[0] + " <b>not bold</b>"
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ]
        dom = subprocess.run(
            [chromium, *flags, f"http://127.0.0.1:{port}/?text={quote(text)}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = _PageMarks()
    page.feed(dom.stdout)
    expected = predictor(text)
    assert expected.entities  # the tiny model marks something here: the check has content
    assert page.marks == [(e.label, e.start, e.end, e.text) for e in expected.entities]
    assert "<b>" not in dom.stdout and "&lt;b&gt;" in dom.stdout  # the text sent is shown, never run as HTML
    assert dom.stdout.count('class="relation"') == len(expected.relations)


def _series(text: str) -> dict[str, float]:
    """Prometheus text format -> {series with labels: value}."""
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_count_requests_batches_and_busy_time_and_each_request_is_logged(predictor, run_dir, caplog):
    limits = Limits(max_chars=1000, max_texts=8, max_body_bytes=20_000, max_batch_texts=16, max_wait_ms=1)
    with TestClient(create_app(predictor, limits, run_dir)) as fresh, caplog.at_level("INFO", "ie.serving.requests"):
        answer = fresh.post("/v1/extract", json={"texts": TEXTS[:2]}, headers={"X-Request-ID": "abc"})
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "abc"
        assert fresh.post("/v1/extract", json={"text": TEXTS[2]}).status_code == 200
        assert fresh.post("/v1/extract", json={"text": 5}).status_code == 422
        assert fresh.get("/no/such/page").status_code == 404
        scrape = fresh.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    series = _series(scrape.text)
    assert series['ie_requests_total{path="/v1/extract",status="200"}'] == 2
    assert series['ie_requests_total{path="/v1/extract",status="422"}'] == 1
    assert series['ie_request_seconds_count{path="/v1/extract"}'] == 3
    assert series["ie_batch_texts_count"] == 2 and series["ie_batch_texts_sum"] == 3  # two calls, 2 + 1 texts
    assert series["ie_predict_busy_seconds_total"] > 0 and series["ie_queue_depth"] == 0
    assert series['ie_requests_total{path="other",status="404"}'] == 1  # a URL scan adds no series
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ie.serving.requests"]
    assert lines[0] == {
        **lines[0],
        "id": "abc",
        "path": "/v1/extract",
        "status": 200,
        "texts": 2,
        "chars": len(TEXTS[0]) + len(TEXTS[1]),
    }
    assert lines[2]["status"] == 422 and lines[2]["texts"] is None and lines[2]["ms"] >= 0
