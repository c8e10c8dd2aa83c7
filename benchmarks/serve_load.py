"""Load test of ``python -m ie.serve`` on localhost, beside in-process ``Predictor.predict`` on the same texts.

    python benchmarks/serve_load.py --run RUN [--clients 1 8 32] [--seconds 20] [--precision bf16|int8] [--backend onnx]
        [--json docs/serving_load.json] [--markdown docs/serving_load.md]

The service runs in its own process (as deployed); each level of concurrency is a fixed time (at most 60 s)
of N clients, each sending one sentence of the seed articles per request and the next as soon as the
answer comes (closed loop), through one httpx connection pool. Reported per level: requests/s, p50/p95
latency, errors (any status but 200) and timeouts; and the in-process figures on the same sentences: one
``predict`` call per sentence (the latency to compare at 1 client) and all sentences in one call (the
throughput to compare at 32). It stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MAX_SECONDS = 60


def seed_sentences(segmenter: str) -> list[str]:
    from ie.data.text import split_sentences

    out = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        out += [text[s.start : s.end] for s in split_sentences(text, segmenter) if s.end - s.start > 20]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def in_process(predictor, sentences: list[str]) -> dict:
    predictor.predict(sentences[:8])  # warm up
    latencies = []
    for text in sentences:
        start = time.perf_counter()
        predictor.predict([text])
        latencies.append(time.perf_counter() - start)
    start, cpu = time.perf_counter(), time.process_time()
    predictor.predict(sentences)
    batched = len(sentences) / (time.perf_counter() - start)
    return {
        "sentences": len(sentences),
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "one_by_one_per_s": len(latencies) / sum(latencies),
        "batched_per_s": batched,
        "batched_cpu_ms_per_sentence": 1000 * (time.process_time() - cpu) / len(sentences),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc), all its threads."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(url: str, sentences: list[str], clients: int, seconds: float) -> dict:
    import httpx

    latencies, errors, timeouts = [], 0, 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one_client(offset: int):
            nonlocal errors, timeouts
            i = offset
            while time.perf_counter() < stop:
                start = time.perf_counter()
                try:
                    answer = await client.post("/v1/extract", json={"text": sentences[i % len(sentences)]})
                    if answer.status_code == 200:
                        latencies.append(time.perf_counter() - start)
                    else:
                        errors += 1
                except httpx.TimeoutException:
                    timeouts += 1
                except httpx.HTTPError:
                    errors += 1
                i += clients

        started = time.perf_counter()
        await asyncio.gather(*(one_client(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": 1000 * percentile(latencies, 0.5) if latencies else None,
        "p95_ms": 1000 * percentile(latencies, 0.95) if latencies else None,
        "errors": errors,
        "timeouts": timeouts,
    }


def _batches(port: int) -> tuple[int, int]:
    """Predictor calls and texts the service has made so far (its /v1/health counters)."""
    import httpx

    health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=30).json()
    return health["batches"], health["texts"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(run: str, precision: str, backend: str, port: int, overrides: list[str]) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ie.serve",
            f"run={run}",
            f"port={port}",
            f"precision={precision}",
            f"backend={backend}",
            *overrides,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise SystemExit(f"serve_load: the service did not start: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.5)


def markdown(result: dict) -> str:
    base = result["in_process"]
    lines = [
        f"Service: `python -m ie.serve run={result['run']} precision={result['precision']} "
        f"backend={result.get('backend', 'auto')}{''.join(' ' + o for o in result.get('serve_overrides', []))}`; "
        f"{base['sentences']} seed sentences, one per request, {result['seconds']} s per level.",
        "",
        "| clients | requests/s | p50 ms | p95 ms | errors | timeouts | texts per Predictor call | "
        "CPU ms per request: service / load generator | vs in-process |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for level in result["levels"]:
        if level["clients"] == 1:
            versus = f"p95 {level['p95_ms'] / base['p95_ms']:.2f}x of one `predict` call ({base['p95_ms']:.1f} ms)"
        else:
            versus = (
                f"{level['requests_per_s'] / base['batched_per_s']:.0%} of batched `predict` "
                f"({base['batched_per_s']:.1f} sentences/s)"
            )
        per_call = "–" if level.get("texts_per_batch") is None else f"{level['texts_per_batch']:.1f}"
        cpu = (
            f"{level['service_cpu_ms_per_request']:.1f} / {level['client_cpu_ms_per_request']:.1f}"
            if "service_cpu_ms_per_request" in level
            else "–"
        )
        lines.append(
            f"| {level['clients']} | {level['requests_per_s']:.1f} | {level['p50_ms']:.1f} | "
            f"{level['p95_ms']:.1f} | {level['errors']} | {level['timeouts']} | {per_call} | {cpu} | {versus} |"
        )
    if "batched_cpu_ms_per_sentence" in base:
        lines += ["", f"In-process batched `predict`: {base['batched_cpu_ms_per_sentence']:.1f} CPU ms per sentence."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8"])
    parser.add_argument("--backend", default="auto", help="as ie.serve backend=...: auto, lean, transformers, onnx")
    parser.add_argument(
        "--serve-overrides", nargs="*", default=[], help="more ie.serve settings, e.g. predict_workers=2"
    )
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]")
    from ie.inference.predictor import Predictor

    predictor = Predictor.from_pretrained(args.run, precision=args.precision, backend=args.backend)
    sentences = seed_sentences(predictor.segmenter)
    result = {
        "run": args.run,
        "precision": args.precision,
        "backend": args.backend,
        "serve_overrides": args.serve_overrides,
        "seconds": args.seconds,
        "in_process": in_process(predictor, sentences),
        "levels": [],
    }
    del predictor  # the service loads its own, in its own process
    port = _free_port()
    proc = serve(args.run, args.precision, args.backend, port, args.serve_overrides)
    try:
        for clients in args.clients:
            before = _batches(port)
            service_cpu, client_cpu = cpu_seconds(proc.pid), time.process_time()
            result["levels"].append(asyncio.run(load(f"http://127.0.0.1:{port}", sentences, clients, args.seconds)))
            level = result["levels"][-1]
            # where the 2 cores went: the service, and this load generator beside it
            level["service_cpu_ms_per_request"] = (
                1000 * (cpu_seconds(proc.pid) - service_cpu) / max(level["requests"], 1)
            )
            level["client_cpu_ms_per_request"] = 1000 * (time.process_time() - client_cpu) / max(level["requests"], 1)
            after = _batches(port)
            level["texts_per_batch"] = (after[1] - before[1]) / (after[0] - before[0]) if after[0] > before[0] else None
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = markdown(result)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
