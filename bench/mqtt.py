"""MQTT end to end: messages published to Mosquitto and committed by riskcast, against the
broker's own delivery rate to a bare subscriber, in one run.

    .venv/bin/python bench/mqtt.py [--messages 50000] [--batch 100]

Starts its own Mosquitto (persistence off, unlimited queue and in-flight window) and a
`riskcast serve --mqtt` on SQLite; one paho publisher. Scenarios: single-reading messages at
QoS 0 and QoS 1, and JSON batch messages (``--batch`` readings each). Prints messages/s and
readings/s for each with the ratio to the bare subscriber's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"user {os.environ.get('USER', 'root')}\nlistener {port} 127.0.0.1\n"
                    "allow_anonymous true\npersistence false\nmax_queued_messages 0\n"
                    "max_inflight_messages 0\nlog_dest stderr\nlog_type information\n")
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


def bare_subscriber_rate(port: int, count: int, qos: int) -> float:
    """Messages/s the broker delivers to a subscriber that only counts them."""
    received = 0
    done = threading.Event()
    first: list[float] = []

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal received
        if not first:
            first.append(time.perf_counter())
        received += 1
        if received == count:
            done.set()

    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-bare")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("bare/#", qos=qos)
    sub.loop_start()
    pub = publisher(port)
    messages = [(f"bare/s{i % 50}/wind_kmh", b"12.5") for i in range(count)]
    start = time.perf_counter()
    publish_all(pub, messages, qos)
    done.wait(120)
    elapsed = time.perf_counter() - start
    pub.loop_stop()
    sub.loop_stop()
    pub.disconnect()
    sub.disconnect()
    return received / elapsed


def committed(url: str) -> int:
    return int(httpx.get(f"{url}/api/v1/system").json()["ingest"]["committed"])


def riskcast_rate(url: str, port: int, messages: list[tuple[str, bytes]], readings: int,
                  qos: int) -> tuple[float, float]:
    """(messages/s, readings/s) from the first publish to the last commit."""
    before = committed(url)
    pub = publisher(port)
    start = time.perf_counter()
    publish_all(pub, messages, qos)
    deadline = time.time() + 180
    while committed(url) < before + readings and time.time() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    got = committed(url) - before
    pub.loop_stop()
    pub.disconnect()
    if got < readings:
        print(f"  only {got} of {readings} readings committed within the deadline")
    return len(messages) * got / readings / elapsed, got / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker, port = start_broker(directory)
        serve = None
        try:
            bare0 = bare_subscriber_rate(port, args.messages, 0)
            bare1 = bare_subscriber_rate(port, args.messages // 5, 1)
            print(f"bare subscriber: QoS 0 {bare0:,.0f} msg/s, QoS 1 {bare1:,.0f} msg/s")
            http_port = free_port()
            env = {**os.environ, "RISKCAST_LOG_LEVEL": "warning", "RISKCAST_RETENTION": "0"}
            serve = subprocess.Popen(
                [sys.executable, "-m", "riskcast.cli.main", "serve", "--port", str(http_port),
                 "--data-dir", str(directory / "data"), "--mqtt", f"mqtt://127.0.0.1:{port}"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            assert serve.stdout is not None
            serve.stdout.readline()  # printed once listening
            url = f"http://127.0.0.1:{http_port}"
            for k in range(50):
                httpx.post(f"{url}/api/v1/sites", json={"id": f"s{k}"}).raise_for_status()
            single = [(f"riskcast/s{i % 50}/wind_kmh", b"12.5") for i in range(args.messages)]
            m0, _ = riskcast_rate(url, port, single, len(single), 0)
            print(f"riskcast, single readings, QoS 0: {m0:,.0f} msg/s committed "
                  f"({m0 / bare0:.2f} of the bare subscriber)")
            single1 = single[: args.messages // 5]
            m1, _ = riskcast_rate(url, port, single1, len(single1), 1)
            print(f"riskcast, single readings, QoS 1: {m1:,.0f} msg/s committed "
                  f"({m1 / bare1:.2f} of the bare subscriber)")
            batches = []
            per = args.batch * 5
            for b in range(args.messages // 10):
                rows = [{"time": T0 + b * args.batch + k, "wind_kmh": 10.0, "rain_mm": 0.0,
                         "pressure_hpa": 1010.0, "solar_wm2": 300.0, "wind_dir_deg": 90.0}
                        for k in range(args.batch)]
                batches.append((f"riskcast/s{b % 50}", json.dumps(rows).encode()))
            mb, rb = riskcast_rate(url, port, batches, len(batches) * per, 1)
            print(f"riskcast, JSON batches of {per} readings, QoS 1: {mb:,.0f} msg/s, "
                  f"{rb:,.0f} readings/s committed")
        finally:
            if serve is not None:
                serve.send_signal(signal.SIGTERM)
                serve.wait(60)
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
