"""A local fake of the Slack Web API (and response_url / file upload URLs) that records calls."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSON_PARAMS = ("blocks", "attachments", "view", "files", "user_ids", "metadata")
_TS = itertools.count(1)  # process-wide, so message ts never repeat across fake instances


@dataclass
class Call:
    """One recorded request: the API method (or 'response_url' / 'upload') and its params."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    response: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    """Speaks enough of the Web API for Deskhand; can be told to fail a method N times."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}  # usergroup id -> member user ids
        self.bot_user_id = "UBOT"
        self._failures: dict[str, list[list[Any]]] = {}
        self._flaky: dict[str, list[Any]] = {}  # method -> [every, error, count]
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> top-level messages
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Root URL of the server."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL (ends with /api/, as slack_sdk requires)."""
        return self.url + "/api/"

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- control -----------------------------------------------------------------------------
    def fail(
        self, method: str, error: str = "ratelimited", times: int = 1, channel: str | None = None
    ) -> None:
        """Make the next `times` calls of `method` (to `channel`, if given) fail with `error`.

        `ratelimited` answers HTTP 429 with Retry-After: 0; other errors are ok=false bodies.
        """
        with self._lock:
            self._failures.setdefault(method, []).append([error, times, channel])

    def flaky(self, method: str, every: int = 2, error: str = "internal_error") -> None:
        """Make every `every`-th call of `method` fail (an unreliable Web API); every=0 stops."""
        with self._lock:
            if every:
                self._flaky[method] = [every, error, 0]
            else:
                self._flaky.pop(method, None)

    def add_user(self, user_id: str, name: str, is_admin: bool = False) -> None:
        self.users[user_id] = {"name": name, "is_admin": is_admin}

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()

    def of(self, method: str) -> list[Call]:
        """Recorded calls of one method, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until at least `count` calls of `method` arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if c.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} {method} calls, got {self.methods()}")
                self._cond.wait(left)

    # ---- the wire ----------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"1600000000.{next(_TS):06d}"

    def _parse(self, req: BaseHTTPRequestHandler) -> tuple[str, dict[str, Any], bytes]:
        url = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        params: dict[str, Any] = dict(parse_qsl(url.query))
        ctype = (req.headers.get("Content-Type") or "").lower()
        if url.path.startswith("/upload/"):
            return url.path, params, raw
        if raw and "json" in ctype:
            params.update(json.loads(raw))
        elif raw and "form-urlencoded" in ctype:
            params.update(dict(parse_qsl(raw.decode())))
        for key in JSON_PARAMS:
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return url.path, params, raw

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path, params, raw = self._parse(req)
        if path.startswith("/api/"):
            method = path[len("/api/") :]
        elif path.startswith("/response/"):
            method = "response_url"
        elif path.startswith("/upload/"):
            method = "upload"
        else:
            method = path
        headers = {k.lower(): v for k, v in req.headers.items()}
        with self._cond:
            failure = None
            for rule in self._failures.get(method, []):
                error, times, channel = rule
                if times > 0 and channel in (None, params.get("channel")):
                    failure, rule[1] = error, times - 1
                    break
            flaky = self._flaky.get(method)
            if flaky and not failure:
                flaky[2] += 1
                if flaky[2] % flaky[0] == 1 or flaky[0] == 1:
                    failure = flaky[1]
            if failure:
                response: dict[str, Any] = {"ok": False, "error": failure}
            elif method in ("upload", "response_url"):
                response = {"ok": True}
            else:
                response = self._respond(method, params)
            self.calls.append(Call(method, params, headers, raw, response))
            self._cond.notify_all()
        if failure == "ratelimited":
            self._reply(req, 429, response, {"Retry-After": "0"})
        elif method == "upload":
            self._reply(req, 200, None, text="OK - 123")
        elif method == "response_url":
            self._reply(req, 200, None, text="ok")
        else:
            self._reply(req, 200, response)

    def _reply(
        self,
        req: BaseHTTPRequestHandler,
        status: int,
        body: dict | None,
        headers: dict[str, str] | None = None,
        text: str = "",
    ) -> None:
        payload = json.dumps(body).encode() if body is not None else text.encode()
        req.send_response(status)
        ctype = "application/json; charset=utf-8" if body is not None else "text/plain"
        req.send_header("Content-Type", ctype)
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        req.wfile.write(payload)

    def _respond(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            return {
                **ok,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "deskhand",
                "team_id": "T0001",
                "user_id": self.bot_user_id,
                "bot_id": "B0001",
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {"type": "message", "text": p.get("text", ""), "ts": ts, "bot_id": "B0001"}
            if p.get("thread_ts"):
                message["thread_ts"] = p["thread_ts"]
            if p.get("metadata"):
                message["metadata"] = p["metadata"]
            channel = p.get("channel", "")
            if channel.startswith("U"):
                channel = "D" + channel[1:]
            if not p.get("thread_ts"):
                self.history.setdefault(channel, []).append(message)
            return {**ok, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            return {**ok, "channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text")}
        if method == "chat.postEphemeral":
            return {**ok, "message_ts": self._next_ts()}
        if method == "chat.getPermalink":
            ts = str(p.get("message_ts", "")).replace(".", "")
            link = f"https://example.slack.com/archives/{p.get('channel')}/p{ts}"
            return {**ok, "channel": p.get("channel"), "permalink": link}
        if method == "users.info":
            uid = p.get("user", "")
            user = self.users.get(uid, {"name": f"name-{uid}", "is_admin": False})
            return {
                **ok,
                "user": {
                    "id": uid,
                    "name": user["name"].lower(),
                    "real_name": user["name"],
                    "is_admin": user["is_admin"],
                    "profile": {"display_name": user["name"], "real_name": user["name"]},
                },
            }
        if method == "conversations.history":
            found = list(reversed(self.history.get(p.get("channel", ""), [])))
            latest = p.get("latest")
            if latest:
                inclusive = str(p.get("inclusive")).lower() in ("1", "true")
                found = [m for m in found if m["ts"] < latest or (inclusive and m["ts"] == latest)]
            limit = int(p.get("limit") or 100)
            return {**ok, "messages": found[:limit], "has_more": len(found) > limit}
        if method == "usergroups.users.list":
            group = str(p.get("usergroup", ""))
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {**ok, "users": list(self.usergroups[group])}
        if method == "conversations.open":
            return {**ok, "channel": {"id": "D" + str(p.get("users", "X"))[1:]}}
        if method == "views.open":
            return {**ok, "view": {"id": "V0001", **(p.get("view") or {})}}
        if method == "files.getUploadURLExternal":
            return {**ok, "upload_url": f"{self.url}/upload/v1/F0001", "file_id": "F0001"}
        if method == "files.completeUploadExternal":
            return {**ok, "files": [{"id": "F0001", "title": "chart"}]}
        if method == "files.info":
            return {**ok, "file": {"id": "F0001", "name": "chart.png"}}
        return ok
