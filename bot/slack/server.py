"""Transports: Socket Mode, or a threaded HTTP server for POST /slack/events; plus the retry loop."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App, BoltRequest

from bot.slack.bolt_app import adapter_of, build_slack_app
from bot.slack.delivery import deliver_pending

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000


class _Handler(BaseHTTPRequestHandler):
    """Converts one HTTP request to a BoltRequest and back; Bolt verifies the signature."""

    bolt: App
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if urlsplit(self.path).path == "/healthz":
            self._send(200, b"ok", {"Content-Type": "text/plain"})
        else:
            self._send(404, b"not found", {"Content-Type": "text/plain"})

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if url.path != EVENTS_PATH:
            self.rfile.read(min(length, MAX_BODY))
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        if length > MAX_BODY:
            self._send(413, b"too large", {"Content-Type": "text/plain"})
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        response = self.bolt.dispatch(BoltRequest(body=body, query=url.query, headers=headers))
        out = {k: v[0] for k, v in response.headers.items() if v}
        self._send(response.status, (response.body or "").encode(), out)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s - " + format, self.address_string(), *args)


class SlackHttpServer(ThreadingHTTPServer):
    """One thread per connection, so a burst of events is acked in parallel."""

    daemon_threads = True
    request_queue_size = 256


def make_http_server(bolt: App, host: str = "0.0.0.0", port: int = 3000) -> SlackHttpServer:
    """An HTTP server bound to host:port (port 0 picks a free one) serving the Bolt app."""
    handler = type("DeskhandSlackHandler", (_Handler,), {"bolt": bolt})
    return SlackHttpServer((host, port), handler)


def start_retry_loop(bolt: App, interval_s: float = 15.0) -> threading.Event:
    """Re-deliver parked escalation cards and relays every `interval_s` until the event is set."""
    stop = threading.Event()
    adapter = adapter_of(bolt)

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                counts = deliver_pending(adapter.app, adapter.client, adapter)
                if counts["delivered"] or counts["failed"]:
                    log.info("slack outbox: %s", counts)
            except Exception:
                log.exception("slack outbox loop failed; will try again")

    threading.Thread(target=loop, name="deskhand-slack-outbox", daemon=True).start()
    return stop


def run_http(app: Any, port: int, host: str = "0.0.0.0") -> None:
    """Serve Events API, interactivity and slash commands at POST /slack/events (blocking)."""
    if not app.config.slack_signing_secret:
        raise SystemExit("SLACK_SIGNING_SECRET is required for --http (requests must be verified).")
    if not app.config.slack_bot_token:
        raise SystemExit("SLACK_BOT_TOKEN is required.")
    bolt = build_slack_app(app)
    server = make_http_server(bolt, host, port)
    adapter_of(bolt).worker.start()  # resumes events accepted before a crash or restart
    stop = start_retry_loop(bolt)
    log.info("Deskhand Slack HTTP listening on http://%s:%s%s", host, port, EVENTS_PATH)
    print(f"Deskhand is listening for Slack at http://{host}:{port}{EVENTS_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        adapter_of(bolt).stop(10)


def run_socket_mode(app: Any) -> None:
    """Connect over Socket Mode with SLACK_APP_TOKEN (no public URL needed; blocking)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not app.config.slack_bot_token or not app.config.slack_app_token:
        raise SystemExit("Socket Mode needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…).")
    bolt = build_slack_app(app)
    adapter_of(bolt).worker.start()
    stop = start_retry_loop(bolt)
    print("Deskhand is connected to Slack over Socket Mode. Ctrl-C to stop.", flush=True)
    try:
        SocketModeHandler(bolt, app.config.slack_app_token).start()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        adapter_of(bolt).stop(10)
