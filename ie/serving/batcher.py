"""Concurrent requests combined into one Predictor call.

The encoder is fastest on full batches, but a service gets one or two texts per request. Requests that
arrive while the model is busy, or within ``max_wait_ms`` of the first one waiting, are predicted
together (up to ``max_batch_texts``), each caller getting back its own texts' predictions. Worker threads
(``workers``, one by default) run the model, so the event loop stays free to accept requests meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ie.errors import ConfigError


@dataclass
class BatchStats:
    batches: int = 0
    texts: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # requests per batch -> how many batches

    def add(self, requests: int, texts: int) -> None:
        self.batches += 1
        self.texts += texts
        self.largest = max(self.largest, texts)
        self.sizes[requests] = self.sizes.get(requests, 0) + 1


def check_batching(max_batch_texts: int, max_wait_ms: float, predict_workers: int) -> None:
    """The batching settings, by the names ``ie.serve`` gives them: one line for the first out of range."""
    for name, value, least in (
        ("max_batch_texts", max_batch_texts, 1),
        ("predict_workers", predict_workers, 1),
        ("max_wait_ms", max_wait_ms, 0),
    ):
        if value < least:
            raise ConfigError(f"{name} must be at least {least}, got {value}")


class MicroBatcher:
    def __init__(
        self,
        predict: Callable[[list[str]], Sequence],
        max_batch_texts: int = 64,
        max_wait_ms: float = 5.0,
        workers: int = 1,
        on_batch: Callable[[int, float], None] | None = None,
    ):
        """``on_batch(texts, seconds)``: told of every Predictor call that answered (the service's metrics)."""
        check_batching(max_batch_texts, max_wait_ms, workers)
        self.predict, self.max_batch_texts, self.max_wait = predict, max_batch_texts, max_wait_ms / 1000
        self.on_batch = on_batch
        self.workers = workers  # batches predicted at once (each in its own thread)
        self.stats = BatchStats()
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="predict")
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish what was submitted, then stop (a server shutting down answers the requests it has)."""
        if self._worker is None:
            return
        await self._queue.join()
        self._worker.cancel()
        try:
            await self._worker
        except asyncio.CancelledError:
            pass
        self._executor.shutdown(wait=True)
        self._worker = None

    def waiting(self) -> int:
        """Requests submitted and not yet taken into a batch."""
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, texts: list[str]) -> list:
        if self._worker is None:
            raise RuntimeError("MicroBatcher.submit before start()")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _collect(self) -> list[tuple[list[str], asyncio.Future]]:
        batch = [await self._queue.get()]
        count = len(batch[0][0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while count < self.max_batch_texts:
            if self._queue.empty():
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            else:
                item = self._queue.get_nowait()
            batch.append(item)
            count += len(item[0])
        return batch

    async def _run(self) -> None:
        """Collect a batch whenever a worker is free, and predict it there while the next one collects."""
        free = asyncio.Semaphore(self.workers)
        running: set[asyncio.Task] = set()
        while True:
            await free.acquire()
            batch = await self._collect()
            task = asyncio.create_task(self._predict(batch))
            running.add(task)
            task.add_done_callback(lambda done: (running.discard(done), free.release()))

    async def _predict(self, batch: list[tuple[list[str], asyncio.Future]]) -> None:
        loop = asyncio.get_running_loop()
        texts = [text for request, _ in batch for text in request]
        start = time.perf_counter()
        try:
            predictions = await loop.run_in_executor(self._executor, self.predict, texts)
        except Exception as error:  # every caller of the batch gets the error; the worker goes on
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            self.stats.add(len(batch), len(texts))
            if self.on_batch is not None:
                self.on_batch(len(texts), time.perf_counter() - start)
            start = 0
            for request, future in batch:
                if not future.done():
                    future.set_result(list(predictions[start : start + len(request)]))
                start += len(request)
        finally:
            for _ in batch:
                self._queue.task_done()
