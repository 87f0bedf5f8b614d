"""MQTT end to end: messages published to Mosquitto and committed by riskcast, against the
broker's own delivery rate to a bare subscriber, in one run.

    .venv/bin/python bench/mqtt.py [--messages 20000] [--rounds 3] [--batch 100]

Starts its own Mosquitto (persistence off, unlimited queue and in-flight window) and a
`riskcast serve --mqtt` on SQLite; one paho publisher. Scenarios: single-reading messages at
QoS 0 (``--rounds`` times, each round a bare subscriber then riskcast, so each ratio compares
neighbours in time), QoS 1 (half as many messages), and JSON batch messages (``--batch``
readings each). riskcast's last commit is seen by polling its counter every 50 ms, which
counts against it (2-5 % of a 1-3 s scenario). Those rates are capped by the one publisher, so
the run ends with a drain: twice ``--messages`` QoS 0 messages queued by the broker while the
subscriber is away (the bare one disconnected with a persistent session, riskcast stopped with
SIGSTOP), then taken as fast as the subscriber can: its capacity. Prints
messages/s, the ratio to the bare subscriber, and the subscriber's CPU per message: the riskcast
process's (every thread, SQLite included, from /proc) and the bare subscriber's paho thread's.
The CPU figures do not depend on how fast the publisher is, the rates do. At the end the
readings in the database are counted: every single-reading message must be a stored row.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcast.testing.server import free_port  # noqa: E402

T0 = 1_700_000_000
SITES = 50


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"user {os.environ.get('USER', 'root')}\nlistener {port} 127.0.0.1\n"
                    "allow_anonymous true\npersistence false\nmax_queued_messages 0\n"
                    "max_inflight_messages 0\nqueue_qos0_messages true\n"
                    "log_dest stderr\nlog_type information\n")
    proc = subprocess.Popen(["stdbuf", "-eL", "mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for raw in proc.stderr:
        if b"listen socket on port" in raw:
            threading.Thread(target=lambda: [None for _ in proc.stderr or ()], daemon=True).start()
            return proc, port
    raise RuntimeError("mosquitto did not start")


def publisher(port: int) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{port}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_all(client: paho.Client, messages: list[tuple[str, bytes]], qos: int) -> float:
    started = time.perf_counter()
    infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    return time.perf_counter() - started


def bare_subscriber(port: int, count: int, qos: int) -> tuple[float, float]:
    """(messages/s, CPU µs per message of its network thread) for a subscriber that only
    counts what the broker delivers."""
    received = 0
    done = threading.Event()
    cpu: list[float] = []

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal received
        if not cpu:
            cpu.append(time.thread_time())
        received += 1
        if received == count:
            cpu.append(time.thread_time())
            done.set()

    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-bare")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("bare/#", qos=qos)
    sub.loop_start()
    pub = publisher(port)
    messages = [(f"bare/s{i % SITES}/wind_kmh", b"12.5") for i in range(count)]
    start = time.perf_counter()
    publish_all(pub, messages, qos)
    done.wait(120)
    elapsed = time.perf_counter() - start
    pub.loop_stop()
    sub.loop_stop()
    pub.disconnect()
    sub.disconnect()
    per = (cpu[-1] - cpu[0]) / max(received - 1, 1) * 1e6 if len(cpu) == 2 else float("nan")
    return received / elapsed, per


def bare_drain(port: int, count: int) -> tuple[float, float]:
    """(messages/s, CPU µs per message) for a bare subscriber taking ``count`` QoS 0 messages
    the broker queued while it was away: its capacity, whatever the publisher's rate."""
    received = 0
    done = threading.Event()
    cpu: list[float] = []
    subscribed = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal received
        if not cpu:
            cpu.append(time.thread_time())
        received += 1
        if received == count:
            cpu.append(time.thread_time())
            done.set()

    def client() -> paho.Client:
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-drain",
                        clean_session=False)
        c.on_message = on_message
        c.on_subscribe = lambda *_: subscribed.set()
        return c

    sub = client()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("drain/#", qos=1)
    subscribed.wait(10)
    sub.disconnect()
    sub.loop_stop()
    queue_messages(port, [(f"drain/s{i % SITES}/wind_kmh", b"12.5") for i in range(count)])
    sub = client()
    start = time.perf_counter()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    done.wait(120)
    elapsed = time.perf_counter() - start
    sub.loop_stop()
    sub.disconnect()
    per = (cpu[-1] - cpu[0]) / max(received - 1, 1) * 1e6 if len(cpu) == 2 else float("nan")
    return received / elapsed, per


def queue_messages(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 0 for a subscriber that is away, and return once the broker has them
    (a QoS 1 message published after them is acknowledged after they were routed)."""
    pub = publisher(port)
    publish_all(pub, messages, 0)
    publish_all(pub, [("bench/marker", b"1")], 1)
    pub.loop_stop()
    pub.disconnect()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Riskcast:
    """A `riskcast serve --mqtt` process with an admin key of ours."""

    def __init__(self, directory: Path, broker_port: int) -> None:
        http_port = free_port()
        key = "bench-" + secrets.token_urlsafe(24)
        env = {**os.environ, "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_RETENTION": "0",
               "RISKCAST_ADMIN_KEY": key, "RISKCAST_RATE_LIMIT": "0"}
        self.db = directory / "data" / "riskcast.db"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(http_port),
             "--data-dir", str(directory / "data"), "--mqtt", f"mqtt://127.0.0.1:{broker_port}"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:  # printed once listening
            if raw.startswith(b"riskcast ready"):
                break
        else:
            raise RuntimeError("riskcast serve did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout or ()],
                         daemon=True).start()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30,
                                 headers={"Authorization": f"Bearer {key}"})

    def committed(self) -> int:
        return int(self.http.get("/api/v1/system").json()["ingest"]["committed"])

    def drain(self, port: int, count: int) -> tuple[float, float]:
        """(messages/s, CPU µs per message) for ``count`` QoS 0 messages published while the
        process is stopped (SIGSTOP: the broker queues them), from SIGCONT to the last
        commit: its capacity, whatever the publisher's rate."""
        before = self.committed()
        self.proc.send_signal(signal.SIGSTOP)
        try:
            queue_messages(port, [(f"riskcast/s{i % SITES}/wind_kmh", b"12.5")
                                  for i in range(count)])
        finally:
            cpu0 = process_cpu(self.proc.pid)
            start = time.perf_counter()
            self.proc.send_signal(signal.SIGCONT)
        deadline = time.time() + 180
        while self.committed() < before + count and time.time() < deadline:
            time.sleep(0.02)  # a benchmark's poll of a counter, not a test's wait
        elapsed = time.perf_counter() - start
        got = self.committed() - before
        if got < count:
            print(f"  only {got} of {count} readings committed within the deadline")
        return got / elapsed, (process_cpu(self.proc.pid) - cpu0) / count * 1e6

    def stop(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def rate(self, port: int, messages: list[tuple[str, bytes]], readings: int,
             qos: int) -> tuple[float, float, float]:
        """(messages/s, readings/s, CPU µs per message) from the first publish to the last
        commit."""
        before = self.committed()
        cpu0 = process_cpu(self.proc.pid)
        pub = publisher(port)
        start = time.perf_counter()
        publish_all(pub, messages, qos)
        deadline = time.time() + 180
        while self.committed() < before + readings and time.time() < deadline:
            time.sleep(0.05)  # a benchmark's poll of a counter, not a test's wait
        elapsed = time.perf_counter() - start
        cpu = process_cpu(self.proc.pid) - cpu0
        got = self.committed() - before
        pub.loop_stop()
        pub.disconnect()
        if got < readings:
            print(f"  only {got} of {readings} readings committed within the deadline")
        return (len(messages) * got / readings / elapsed, got / elapsed,
                cpu / len(messages) * 1e6)


def stored_rows(db: Path, variable: str) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM readings r JOIN series s ON s.id = r.series "
                           "WHERE s.variable = ?", (variable,)).fetchone()
    return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker, port = start_broker(directory)
        serve = None
        try:
            serve = Riskcast(directory, port)
            for k in range(SITES):
                serve.http.post("/api/v1/sites", json={"id": f"s{k}"}).raise_for_status()
            single = [(f"riskcast/s{i % SITES}/wind_kmh", b"12.5") for i in range(args.messages)]
            ratios = []
            for r in range(args.rounds):
                bare, bare_cpu = bare_subscriber(port, args.messages, 0)
                m0, _, cpu0 = serve.rate(port, single, len(single), 0)
                ratios.append(m0 / bare)
                print(f"QoS 0 round {r + 1}: bare subscriber {bare:,.0f} msg/s "
                      f"({bare_cpu:.1f} µs CPU/msg), riskcast {m0:,.0f} msg/s committed "
                      f"({cpu0:.1f} µs CPU/msg): ratio {m0 / bare:.2f}", flush=True)
            print(f"QoS 0 ratio over {args.rounds} rounds: {min(ratios):.2f}-{max(ratios):.2f}")
            single1 = single[: args.messages // 2]
            bare1, bare1_cpu = bare_subscriber(port, len(single1), 1)
            m1, _, cpu1 = serve.rate(port, single1, len(single1), 1)
            print(f"QoS 1: bare subscriber {bare1:,.0f} msg/s ({bare1_cpu:.1f} µs CPU/msg), "
                  f"riskcast {m1:,.0f} msg/s committed ({cpu1:.1f} µs CPU/msg): "
                  f"ratio {m1 / bare1:.2f}", flush=True)
            batches = []
            per = args.batch * 5
            for b in range(args.messages // 10):
                rows = [{"time": T0 + b * args.batch + k, "wind_kmh": 10.0, "rain_mm": 0.0,
                         "pressure_hpa": 1010.0, "solar_wm2": 300.0, "wind_dir_deg": 90.0}
                        for k in range(args.batch)]
                batches.append((f"riskcast/s{b % SITES}", json.dumps(rows).encode()))
            mb, rb, _ = serve.rate(port, batches, len(batches) * per, 1)
            print(f"JSON batches of {per} readings, QoS 1: {mb:,.0f} msg/s, "
                  f"{rb:,.0f} readings/s committed")
            # Capacity, whatever the publisher's rate: messages queued while away, drained.
            drained = args.messages * 2
            bare_d, bare_d_cpu = bare_drain(port, drained)
            rd, rd_cpu = serve.drain(port, drained)
            print(f"Drain of {drained:,} queued QoS 0 messages: bare subscriber {bare_d:,.0f} "
                  f"msg/s ({bare_d_cpu:.1f} µs CPU/msg), riskcast {rd:,.0f} msg/s committed "
                  f"({rd_cpu:.1f} µs CPU/msg): ratio {rd / bare_d:.2f}")
            serve.stop()
            serve = None
            plain = args.rounds * len(single) + len(single1) + drained
            # The JSON batches hold wind_kmh too, one per row; their times are their own.
            expected = plain + len(batches) * args.batch
            rows_stored = stored_rows(directory / "data" / "riskcast.db", "wind_kmh")
            print(f"wind_kmh rows stored: {rows_stored:,} of {expected:,} sent"
                  + ("" if rows_stored == expected else "  <-- MISSING"))
        finally:
            if serve is not None:
                serve.stop()
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
