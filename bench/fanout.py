"""WebSocket fan-out: riskcast's hub against a seed-style hub, in one run, on this machine.

    .venv/bin/python bench/fanout.py              # 1,000 x 100/s and 10,000 x 5/s, 5 s each
    .venv/bin/python bench/fanout.py --quick      # 200 x 50/s and 2,000 x 5/s, 3 s each
    .venv/bin/python bench/fanout.py --subscribers 1000 --rate 100 --seconds 5

Each scenario runs twice, each time with the server in its own process on 127.0.0.1:

- ``seed``: FastAPI on stock uvicorn, a list of sockets and
  ``for ws in conns: await ws.send_json(msg)`` per event;
- ``riskcast``: ``riskcast.api.hub.Hub`` with ``FastWebSocketProtocol`` (frames built once,
  one write per subscriber and loop tick).

The server publishes ``rate`` events/s for ``seconds`` on one channel, each carrying
``time.time_ns()`` at publish; this process holds every subscriber (a minimal raw-socket
WebSocket client on uvloop) and measures latency from that stamp to receipt. Prints
delivered messages/s, latency p50/p99/max, server CPU per delivered message, connect
time, and the ratios riskcast / seed. Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import gc
import json
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
CHANNEL = "bench"
CONNECT_BATCH = 500
PINNED = False


def pin(cpu: int) -> None:
    """Keep this process on one core: the scheduler of this VM otherwise packs client and
    server onto one vCPU, which doubles the wall time of every send."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---------------------------------------------------------------- server side


def build_app(kind: str) -> Any:
    from riskcast.core.clock import format_us, now_us

    state: dict[str, Any] = {"published": 0, "task": None}
    if kind == "riskcast":
        from riskcast.api import ws
        from riskcast.api.hub import Hub
        from riskcast.bus.memory import MemoryBus

        bus = MemoryBus()
        hub = Hub(bus)

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await hub.start()
            yield
            await hub.aclose()

        app = FastAPI(lifespan=lifespan)
        app.state.hub = hub
        app.include_router(ws.router)

        async def publish_one(stamp: int) -> None:
            await bus.publish(CHANNEL, {"t": stamp})

        def extra() -> dict[str, Any]:
            return hub.stats()
    else:
        app = FastAPI()
        conns: list[WebSocket] = []

        @app.websocket("/ws")
        async def seed_ws(websocket: WebSocket) -> None:
            conns.append(websocket)  # before the 101 goes out: connected means registered
            await websocket.accept()
            try:
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                if websocket in conns:
                    conns.remove(websocket)

        async def publish_one(stamp: int) -> None:
            state["seq"] = seq = state.get("seq", 0) + 1
            msg = {"channel": CHANNEL, "seq": seq, "time": format_us(now_us()),
                   "data": {"t": stamp}}
            for websocket in list(conns):
                try:
                    await websocket.send_json(msg)
                except Exception:
                    if websocket in conns:
                        conns.remove(websocket)

        def extra() -> dict[str, Any]:
            return {"subscribers": len(conns)}

    async def publisher(rate: float, seconds: float, start_ns: int) -> None:
        # Each event carries the time it is *due*, not when it went out, so a server that
        # falls behind shows it in its latency (no coordinated omission).
        start = time.perf_counter()
        i = 0
        while True:
            due = start + i / rate
            now = time.perf_counter()
            if due >= start + seconds:
                break
            if due > now:
                await asyncio.sleep(due - now)
            await publish_one(start_ns + round(i * 1e9 / rate))
            state["published"] += 1
            i += 1
        state["publish_s"] = time.perf_counter() - start

    @app.get("/start")
    async def start(rate: float, seconds: float) -> dict[str, Any]:
        start_ns = time.time_ns()
        state["task"] = asyncio.create_task(publisher(rate, seconds, start_ns))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu": time.process_time(), "start_ns": start_ns, "sys": usage.ru_stime}

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        task = state["task"]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu": time.process_time(), "published": state["published"],
                "sys": usage.ru_stime, "publish_s": state.get("publish_s", 0.0),
                "done": task is not None and task.done(), **extra()}

    return app


def serve(kind: str, port: int, cpu: int | None) -> None:
    import uvicorn

    if cpu is not None:
        pin(cpu)

    from riskcast.api.wsfast import FastWebSocketProtocol

    raise_fd_limit()

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            print("ready", flush=True)

    config = uvicorn.Config(
        build_app(kind), host=HOST, port=port, log_level="warning", lifespan="on",
        loop="uvloop", http="httptools", backlog=4096,
        ws=FastWebSocketProtocol if kind == "riskcast" else "websockets-sansio")
    Server(config).run()


# ---------------------------------------------------------------- client side


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + body


class Stats:
    def __init__(self) -> None:
        self.stamps = array("q")  # publish time of each delivered event
        self.latency = array("q")  # receipt - publish, ns
        self.closed = 0


class Client(asyncio.Protocol):
    """A minimal WebSocket client: upgrade, optional subscribe, count frames."""

    def __init__(self, stats: Stats, request: bytes, subscribe: bytes | None,
                 ready: asyncio.Future[None]) -> None:
        self.stats = stats
        self.request = request
        self.subscribe = subscribe
        self.ready = ready
        self.buf = b""
        self.upgraded = False
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:  # uvloop's TCPTransport
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            status, sep, rest = buf.partition(b"\r\n\r\n")
            if not sep:
                self.buf = buf
                return
            if not status.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(status[:60].decode()))
                return
            self.upgraded = True
            buf = rest
            if self.subscribe is None:
                self.ready.set_result(None)
            else:
                self.transport.write(self.subscribe)
        now = time.time_ns()
        stamps, latency = self.stats.stamps, self.stats.latency
        i, n = 0, len(buf)
        while n - i >= 2:
            size = buf[i + 1] & 0x7F
            head = 2
            if size == 126:
                if n - i < 4:
                    break
                size = int.from_bytes(buf[i + 2:i + 4], "big")
                head = 4
            elif size == 127:
                if n - i < 10:
                    break
                size = int.from_bytes(buf[i + 2:i + 10], "big")
                head = 10
            end = i + head + size
            if end > n:
                break
            if buf[i] & 0x0F == 1:
                at = buf.rfind(b'"t":', i + head, end)
                if at >= 0:
                    stamp = int(buf[at + 4:end - 2])
                    stamps.append(stamp)
                    latency.append(now - stamp)
                elif not self.ready.done():  # the "subscribed" acknowledgement
                    self.ready.set_result(None)
            i = end
        self.buf = buf[i:] if i < n else b""


@dataclass
class Result:
    name: str
    connect_s: float
    delivered_per_s: float
    share: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_us: float
    client_us: float
    note: str


def start_server(kind: str, cpu: int | None) -> tuple[subprocess.Popen[str], int]:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    extra = [] if cpu is None else ["--cpu", str(cpu)]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),
                             *extra],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"{kind} server did not start")
    return proc, port


async def http_get(port: int, path: str) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    result: dict[str, Any] = json.loads(raw.partition(b"\r\n\r\n")[2])
    return result


async def run_one(kind: str, subscribers: int, rate: float, seconds: float) -> Result:
    proc, port = start_server(kind, 0 if PINNED else None)
    loop = asyncio.get_running_loop()
    stats = Stats()
    transports: list[Any] = []
    subscribe = (masked_text(json.dumps({"op": "subscribe", "channels": [CHANNEL]}).encode())
                 if kind == "riskcast" else None)

    async def connect_one() -> None:
        """Upgrade one connection; for riskcast also subscribe and wait for the ack."""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        ready: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.create_connection(
            functools.partial(Client, stats, request, subscribe, ready), HOST, port)
        transports.append(transport)
        await ready

    try:
        began = time.perf_counter()
        for first in range(0, subscribers, CONNECT_BATCH):
            batch = min(subscribers, first + CONNECT_BATCH) - first
            await asyncio.wait_for(asyncio.gather(*(connect_one() for _ in range(batch))), 120)
        connect_s = time.perf_counter() - began
        gc.collect()
        gc.disable()
        client_cpu0 = time.process_time()
        started = await http_get(port, f"/start?rate={rate}&seconds={seconds}")
        server_cpu0, start_ns = started["cpu"], started["start_ns"]
        await asyncio.sleep(seconds)
        # grace: until everything published arrived, nothing moved for 1 s, or 30 s passed
        deadline = time.perf_counter() + 30
        last, quiet_since = -1, time.perf_counter()
        while time.perf_counter() < deadline:
            server = await http_get(port, "/stats")
            count = len(stats.latency)
            if server["done"] and count >= server["published"] * subscribers:
                break
            if count != last:
                last, quiet_since = count, time.perf_counter()
            elif time.perf_counter() - quiet_since > 1:
                break
            await asyncio.sleep(0.1)
        server = await http_get(port, "/stats")
        client_cpu = time.process_time() - client_cpu0
        gc.enable()
    finally:
        for transport in transports:
            transport.abort()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()

    delivered = len(stats.latency)
    lat = sorted(stats.latency)
    # throughput over the time from the first due event to the last receipt
    last_receipt = max(map(int.__add__, stats.stamps, stats.latency), default=start_ns)
    span_s = max(seconds, (last_receipt - start_ns) / 1e9)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6 if lat else float("nan")

    expected = server["published"] * subscribers
    server_cpu = server["cpu"] - server_cpu0
    kernel = (server["sys"] - started["sys"]) / server_cpu if server_cpu > 0 else 0.0
    note = (f"published {server['published']} of {int(rate * seconds)} in "
            f"{server['publish_s']:.1f} s, server CPU {kernel:.0%} kernel")
    if kind == "riskcast":
        note += f", dropped slow {server['dropped_slow']}"
    return Result(
        name="riskcast hub" if kind == "riskcast" else "seed-style",
        connect_s=connect_s, delivered_per_s=delivered / span_s,
        share=delivered / span_s / (rate * subscribers),
        p50_ms=pct(0.50), p99_ms=pct(0.99), max_ms=lat[-1] / 1e6 if lat else float("nan"),
        server_us=server_cpu / max(1, delivered) * 1e6,
        client_us=client_cpu / max(1, delivered) * 1e6,
        note=note + ("" if delivered >= expected else f", {expected - delivered} undelivered"))


def print_results(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"  {'':14} {'connect':>8} {'delivered/s':>12} {'of plan':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'server µs/msg':>14} {'client µs/msg':>14}")
    for r in results:
        print(f"  {r.name:14} {r.connect_s:>7.1f}s {r.delivered_per_s:>12,.0f} {r.share:>8.0%} "
              f"{r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.max_ms:>8.1f} {r.server_us:>14.1f} "
              f"{r.client_us:>14.1f}   {r.note}")
    if len(results) == 2:
        seed, hub = results
        ratio = hub.delivered_per_s / seed.delivered_per_s
        print(f"  ratio riskcast / seed: deliveries/s {ratio:.3g}x,"
              f" p99 latency {hub.p99_ms / seed.p99_ms:.3g}x,"
              f" server CPU per message {hub.server_us / seed.server_us:.3g}x,"
              f" connect time {hub.connect_s / seed.connect_s:.3g}x")


async def bench(scenarios: list[tuple[int, float]], seconds: float, kinds: list[str]) -> None:
    limit = raise_fd_limit()
    placement = ("server pinned to core 0, clients to core 1" if PINNED
                 else "client and server placed by the OS")
    print(f"fan-out bench: {os.cpu_count()} cores, {placement}, "
          f"RLIMIT_NOFILE {limit}, {seconds:g} s per run")
    for subscribers, rate in scenarios:
        if subscribers + 100 > limit:
            print(f"skipping {subscribers} subscribers: RLIMIT_NOFILE is {limit}")
            continue
        results = [await run_one(kind, subscribers, rate, seconds) for kind in kinds]
        print_results(f"{subscribers:,} subscribers x {rate:g} events/s on one channel "
                      f"(plan {subscribers * rate:,.0f} deliveries/s)", results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, help="one scenario with this many")
    parser.add_argument("--rate", type=float, help="events/s for --subscribers [100]")
    parser.add_argument("--seconds", type=float, help="publishing time per run [5; quick 3]")
    parser.add_argument("--quick", action="store_true", help="small scenarios, 3 s each")
    parser.add_argument("--only", choices=["seed", "riskcast"], help="run one side only")
    parser.add_argument("--serve", choices=["seed", "riskcast"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-pin", action="store_true",
                        help="let the OS place client and server (default: server on core 0, "
                             "clients on core 1)")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.cpu)
        return
    if args.subscribers:
        scenarios = [(args.subscribers, args.rate or 100.0)]
    elif args.quick:
        scenarios = [(200, 50.0), (2_000, 5.0)]
    else:
        scenarios = [(1_000, 100.0), (10_000, 5.0)]
    seconds = args.seconds or (3.0 if args.quick else 5.0)
    kinds = [args.only] if args.only else ["seed", "riskcast"]
    import uvloop

    global PINNED
    PINNED = not args.no_pin and (os.cpu_count() or 1) > 1
    if PINNED:
        pin(1)
    uvloop.run(bench(scenarios, seconds, kinds))


if __name__ == "__main__":
    main()
