"""SpanWorker: keys noted again before their turn run once over the union of their spans;
a failing run is counted and never stops the others."""

from __future__ import annotations

import asyncio

import pytest

from riskcast.pipeline.spans import SpanWorker


class Recorder(SpanWorker[str]):
    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.done: list[tuple[str, int, int]] = []
        self.failed_keys: list[str] = []

    async def work(self, key: str, lo: int, hi: int) -> bool:
        if key == "boom":
            raise RuntimeError("boom")
        if key == "skip":
            return False
        self.done.append((key, lo, hi))
        return True

    def failed(self, key: str) -> None:
        self.failed_keys.append(key)


@pytest.mark.anyio
async def test_spans_merge_and_a_failure_does_not_stop_the_others() -> None:
    worker = Recorder()
    # Noted before the task starts: everything waits, so the spans merge.
    worker.add("a", 10, 20)
    worker.add("boom", 0, 1)
    worker.add("a", 5, 12)
    worker.add("skip", 0, 1)
    worker.add("b", 30, 30)
    worker.add("a", 15, 40)
    assert worker.pending == 4
    worker.kick()
    await worker.start()
    try:
        await asyncio.wait_for(worker.drained(), 10)
    finally:
        await worker.aclose()
    assert worker.done == [("a", 5, 40), ("b", 30, 30)]
    assert worker.failed_keys == ["boom"]
    assert (worker.runs, worker.failures, worker.pending) == (2, 1, 0)
