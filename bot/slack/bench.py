"""Burst benchmark: fire N signed events at the HTTP adapter at once and report ack latencies."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App

from bot.slack.bolt_app import adapter_of
from bot.slack.server import EVENTS_PATH, make_http_server


def signed_headers(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack v0 signature headers for a request body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def mention_bodies(n: int, channel: str, text: str, bot_user: str = "UBOT") -> list[str]:
    """N distinct app_mention event callbacks from N members (each a new thread)."""
    base = time.time()
    bodies = []
    for i in range(n):
        ts = f"{int(base)}.{900000 + i:06d}"
        event = {
            "type": "app_mention",
            "user": f"UBENCH{i:04d}",
            "text": f"<@{bot_user}> {text}",
            "ts": ts,
            "event_ts": ts,
            "channel": channel,
            "channel_type": "channel",
        }
        body = {
            "type": "event_callback",
            "team_id": "T0001",
            "event": event,
            "event_id": f"EvB{i:05d}",
        }
        bodies.append(json.dumps(body))
    return bodies


def _post(url: str, body: str, secret: str) -> tuple[int, float]:
    started = time.perf_counter()
    request = urllib.request.Request(
        url, data=body.encode(), headers=signed_headers(body, secret), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, (time.perf_counter() - started) * 1000


def burst(url: str, bodies: list[str], secret: str, concurrency: int = 50) -> dict[str, Any]:
    """POST all bodies as fast as `concurrency` senders allow; ack-time figures in ms."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda b: _post(url, b, secret), bodies))
    wall = (time.perf_counter() - started) * 1000
    times = sorted(ms for _, ms in results)
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    return {
        "requests": len(results),
        "statuses": statuses,
        "ack_ms_max": round(times[-1], 1),
        "ack_ms_p95": round(p95, 1),
        "ack_ms_median": round(statistics.median(times), 1),
        "burst_wall_ms": round(wall, 1),
        "within_3s": sum(1 for t in times if t < 3000),
    }


def run_burst(
    bolt: App, n: int = 200, concurrency: int = 50, channel: str = "CBENCH",
    text: str = "how do I reset my password?", wait_s: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """Serve `bolt` on a free local port, fire n mentions at once, report acks (and drain time)."""
    server = make_http_server(bolt, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = str(server.server_address[0]), server.server_address[1]
    secret = adapter_of(bolt).app.config.slack_signing_secret
    try:
        figures = burst(f"http://{host}:{port}{EVENTS_PATH}", mention_bodies(n, channel, text),
                        secret, concurrency)  # fmt: skip
        if wait_s:
            started = time.perf_counter()
            figures["drained"] = adapter_of(bolt).wait_idle(wait_s)
            figures["work_drain_s"] = round(time.perf_counter() - started, 1)
        return figures
    finally:
        server.shutdown()
        server.server_close()
