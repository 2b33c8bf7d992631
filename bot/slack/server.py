"""Transports: Socket Mode, or a threaded HTTP server for POST /slack/events; plus the retry loop."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import signal
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from slack_bolt import App, BoltRequest

from bot.escalation import repair
from bot.inbox import stop_grace_s
from bot.monitoring.poster import AlertPoster
from bot.privacy.erasure import daily_purge
from bot.slack.alerts import post_alerts
from bot.slack.bolt_app import adapter_of, build_slack_app
from bot.slack.delivery import deliver_pending

if TYPE_CHECKING:  # adapters receive the running app
    from bot.app import Deskhand

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000
READ_TIMEOUT_S = 10.0  # a half-sent request frees its thread after this long
MAX_INFLIGHT = 128  # requests handled at once; more get 503 (Slack retries) instead of a thread
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


class _Handler(BaseHTTPRequestHandler):
    """Converts one HTTP request to a BoltRequest and back; Bolt verifies the signature.

    Everything a client can get wrong (length, encoding, JSON, a stalled upload) ends in a clear
    4xx with a one-line reason, never a traceback or a dropped connection.
    """

    bolt: App
    secret: str = ""  # the signing secret, to check raw bytes that are not valid UTF-8
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S  # StreamRequestHandler sets it on the socket: reads cannot hang

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if urlsplit(self.path).path == "/healthz":
            draining = getattr(self.server, "draining", False)
            self._send(503 if draining else 200, b"stopping" if draining else b"ok", TEXT)
        else:
            self._send(404, b"not found", TEXT)

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        server: Any = self.server
        if getattr(server, "draining", False):
            self.close_connection = True
            self._send(503, b"stopping; retry on another instance", TEXT)
            return
        gate: threading.BoundedSemaphore | None = getattr(server, "gate", None)
        if gate is not None and not gate.acquire(blocking=False):
            self.close_connection = True
            self._send(503, b"busy; retry shortly", TEXT)
            return
        try:
            self._post()
        finally:
            if gate is not None:
                gate.release()

    def _post(self) -> None:
        url = urlsplit(self.path)
        raw = self._read_body()
        if raw is None:
            return
        if url.path != EVENTS_PATH:
            self._send(404, b"not found", TEXT)
            return
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            cleaned = self._cleaned_body(raw, headers)
            if cleaned is None:
                return
            body = cleaned
        try:
            grouped: dict[str, str | Sequence[str]] = dict(headers)
            request = BoltRequest(body=body, query=url.query, headers=grouped)
        except Exception as exc:  # unparsable JSON / form payload: the client's fault
            self._send(400, f"malformed request body: {type(exc).__name__}".encode(), TEXT)
            return
        try:
            response = self.bolt.dispatch(request)
        except Exception:
            log.exception("slack request failed in dispatch")
            self._send(500, b"internal error; Slack will retry", TEXT)
            return
        out = {k: v[0] for k, v in response.headers.items() if v}
        self._send(response.status, (response.body or "").encode(), out)

    def _read_body(self) -> bytes | None:
        """The body, exactly Content-Length bytes, or None after an error reply was sent."""
        value = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, b"chunked bodies are not accepted; send Content-Length")
            return None
        if value is None:
            self._refuse(411, b"Content-Length required")
            return None
        try:
            length = int(value.strip())
        except ValueError:
            self._refuse(400, b"Content-Length is not a number")
            return None
        if length < 0:
            self._refuse(400, b"Content-Length is negative")
            return None
        if length > MAX_BODY:
            self._refuse(413, b"body too large")
            return None
        try:
            raw = self.rfile.read(length)
        except (TimeoutError, OSError):
            self._refuse(408, b"timed out reading the body")
            return None
        if len(raw) < length:
            self._refuse(400, b"body shorter than Content-Length")
            return None
        return raw

    def _cleaned_body(self, raw: bytes, headers: dict[str, list[str]]) -> str | None:
        """Invalid UTF-8: check the signature on the raw bytes, then clean the text like Slack's.

        The cleaned body is re-signed with our own secret so Bolt's verification still applies.
        """
        secret = self.secret
        stamp = (headers.get("x-slack-request-timestamp") or [""])[0]
        given = (headers.get("x-slack-signature") or [""])[0]
        if not secret:
            return raw.decode("utf-8", errors="replace")
        if not (stamp and given and hmac.compare_digest(_signature(secret, stamp, raw), given)):
            self._send(401, b"invalid signature", TEXT)
            return None
        body = raw.decode("utf-8", errors="replace")
        headers["x-slack-signature"] = [_signature(secret, stamp, body.encode())]
        return body

    def _refuse(self, status: int, reason: bytes) -> None:
        """Answer an unreadable request and close: what follows on the socket is not trusted."""
        self.close_connection = True
        self._send(status, reason, TEXT)
        return None

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError as err:  # the client went away; nothing left to tell it
            log.debug("could not answer %s: %s", self.address_string(), err)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s - " + format, self.address_string(), *args)


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of raw bytes."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackHttpServer(ThreadingHTTPServer):
    """One thread per connection (bounded), so a burst of events is acked in parallel."""

    daemon_threads = True
    request_queue_size = 256
    draining = False  # set on SIGTERM/SIGINT: new requests get 503 while work is wound down

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.BoundedSemaphore(MAX_INFLIGHT)


def make_http_server(bolt: App, host: str = "0.0.0.0", port: int = 3000) -> SlackHttpServer:
    """An HTTP server bound to host:port (port 0 picks a free one) serving the Bolt app."""
    secret = adapter_of(bolt).app.config.slack_signing_secret or ""
    handler = type("DeskhandSlackHandler", (_Handler,), {"bolt": bolt, "secret": secret})
    return SlackHttpServer((host, port), handler)


def start_retry_loop(bolt: App, interval_s: float = 15.0) -> threading.Event:
    """Re-deliver parked escalation cards and relays every `interval_s` until the event is set."""
    stop = threading.Event()
    adapter = adapter_of(bolt)

    def loop() -> None:
        try:
            log.info("slack start-up repair: %s", repair(adapter.app, "slack"))
        except Exception:
            log.exception("slack start-up repair failed; the retry loop runs anyway")
        while not stop.wait(interval_s):
            try:
                counts = deliver_pending(adapter.app, adapter.client, adapter)
                if counts["delivered"] or counts["failed"]:
                    log.info("slack outbox: %s", counts)
            except Exception:
                log.exception("slack outbox loop failed; will try again")
            try:
                daily_purge(adapter.app)
            except Exception:
                log.exception("retention purge failed; will try again tomorrow")
            try:
                post_alerts(adapter, poster)
            except Exception:
                log.exception("posting alerts failed; will try again")

    poster = AlertPoster(adapter.app, "slack")
    threading.Thread(target=loop, name="deskhand-slack-outbox", daemon=True).start()
    return stop


def on_stop_signals(callback: Any) -> None:
    """Call `callback` (once) on SIGTERM or SIGINT; only possible from the main thread."""
    fired = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if fired.is_set():
            return
        fired.set()
        log.info("%s received: stopping", signal.Signals(signum).name)
        callback()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, handler)


def run_http(app: Deskhand, port: int, host: str = "0.0.0.0") -> None:
    """Serve Events API, interactivity and slash commands at POST /slack/events (blocking).

    SIGTERM/SIGINT: new requests get 503 (Slack retries them elsewhere or later), the listening
    socket closes, work in flight gets DESKHAND_STOP_GRACE_S to finish, the rest stays in the
    inbox for the next start.
    """
    if not app.config.slack_signing_secret:
        raise SystemExit("SLACK_SIGNING_SECRET is required for --http (requests must be verified).")
    if not app.config.slack_bot_token:
        raise SystemExit("SLACK_BOT_TOKEN is required.")
    bolt = build_slack_app(app)
    server = make_http_server(bolt, host, port)
    adapter = adapter_of(bolt)
    adapter.worker.start()  # resumes events accepted before a crash or restart
    stop = start_retry_loop(bolt)

    def begin_stop() -> None:
        server.draining = True
        threading.Thread(target=server.shutdown, name="deskhand-http-stop", daemon=True).start()

    on_stop_signals(begin_stop)
    log.info("Deskhand Slack HTTP listening on http://%s:%s%s", host, port, EVENTS_PATH)
    print(f"Deskhand is listening for Slack at http://{host}:{port}{EVENTS_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.draining = True
        stop.set()
        server.server_close()
        left = adapter.stop(stop_grace_s())
        print(f"Deskhand stopped ({left} events left for the next start).", flush=True)


def run_socket_mode(app: Deskhand) -> None:
    """Connect over Socket Mode with SLACK_APP_TOKEN (no public URL needed; blocking)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not app.config.slack_bot_token or not app.config.slack_app_token:
        raise SystemExit("Socket Mode needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…).")
    bolt = build_slack_app(app)
    adapter = adapter_of(bolt)
    adapter.worker.start()
    stop = start_retry_loop(bolt)
    stopping = threading.Event()
    on_stop_signals(stopping.set)
    handler = SocketModeHandler(bolt, app.config.slack_app_token)
    print("Deskhand is connected to Slack over Socket Mode. Ctrl-C to stop.", flush=True)
    try:
        handler.connect()
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(Exception):
            handler.close()  # un-acked envelopes are redelivered by Slack
        stop.set()
        left = adapter.stop(stop_grace_s())
        print(f"Deskhand stopped ({left} events left for the next start).", flush=True)
