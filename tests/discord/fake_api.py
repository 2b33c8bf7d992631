"""A local fake of Discord's HTTP API (aiohttp): records every request, answers realistic JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.discord import payloads as P


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Discord sends it (discord.py checks the bare content type)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


@dataclass
class Call:
    """One recorded request."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    files: list[str] = field(default_factory=list)
    response: Any = None

    @property
    def content(self) -> str:
        """The message text sent, if any."""
        body = self.json or {}
        if "message" in body and isinstance(body["message"], dict):
            body = body["message"]
        if isinstance(body.get("data"), dict):
            body = body["data"]
        return body.get("content") or ""


@dataclass
class Failure:
    """An injected failure for requests matching method + path regex."""

    method: str
    pattern: str
    status: int
    times: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakeDiscord:
    """Enough of the Discord REST API for a bot: messages, threads, forum posts, interactions."""

    def __init__(self, ids: P.Ids, bot_user: dict[str, Any], application_id: str) -> None:
        self.ids = ids
        self.bot_user = bot_user
        self.application_id = application_id
        self.calls: list[Call] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.interaction_messages: dict[str, str] = {}  # interaction token -> message id
        self.nonces: dict[tuple[str, str], str] = {}  # (channel, enforced nonce) -> message id
        self.failures: list[Failure] = []
        self.flaky_rules: list[list[Any]] = []  # [method, pattern, every, count, failure]
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on a free loopback port; returns the API base URL."""
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base

    @property
    def base(self) -> str:
        """What discord.http.Route.BASE must be set to."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    async def stop(self) -> None:
        """Shut the server down."""
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- test helpers ----------------------------------------------------------------------
    def add_channel(self, channel: dict[str, Any]) -> None:
        """Make GET /channels/{id} know a channel."""
        self.channels[channel["id"]] = channel

    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next `times` matching requests fail with `status`."""
        body: dict[str, Any] = {"message": f"fake failure {status}", "code": 0}
        headers: dict[str, str] = {}
        if status == 429:
            body = {"message": "You are being rate limited.", "retry_after": retry_after or 0.05}
            body["global"] = False
            headers = {"Via": "1.1 google", "Retry-After": str(retry_after or 0.05)}
        self.failures.append(Failure(method, pattern, status, times, body, headers))

    def flaky(
        self, method: str, pattern: str, status: int, every: int = 2, retry_after: float = 0
    ) -> None:
        """Fail every `every`-th matching request (an unreliable API); every=0 clears all."""
        if not every:
            self.flaky_rules.clear()
            return
        self.fail(method, pattern, status, 0, retry_after or None)
        failure = self.failures.pop()
        self.flaky_rules.append([method, pattern, every, 0, failure])

    def find(self, method: str, pattern: str) -> list[Call]:
        """Recorded calls matching a method and a path regex."""
        return [c for c in self.calls if c.method == method and re.fullmatch(pattern, c.path)]

    def posts_to(self, channel_id: str | int) -> list[Call]:
        """Messages the bot posted into a channel or thread."""
        return self.find("POST", rf"/channels/{channel_id}/messages")

    def created_in(self, channel_id: str | int) -> set[str]:
        """Ids of the messages that appeared in a channel (a nonce repeat creates none)."""
        return {c.response["id"] for c in self.posts_to(channel_id) if c.response}

    def message_sends(self) -> list[Call]:
        """Every call that creates a visible message (channel posts, forum posts, followups)."""
        return [
            c
            for c in self.calls
            if c.method == "POST"
            and (
                re.fullmatch(r"/channels/\d+/messages", c.path)
                or re.fullmatch(r"/channels/\d+/threads", c.path)
                or re.fullmatch(r"/webhooks/\d+/[^/]+", c.path)
            )
        ]

    # ---- request handling ------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._body(request)
        call = Call(request.method, path, dict(request.query), body, files)
        self.calls.append(call)
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == request.method
                and re.fullmatch(failure.pattern, path)
            ):
                failure.times -= 1
                return _json(failure.body, failure.status, failure.headers)
        for rule in self.flaky_rules:
            if rule[0] == request.method and re.fullmatch(rule[1], path):
                rule[3] += 1
                if rule[3] % rule[2] == 1 or rule[2] == 1:
                    return _json(rule[4].body, rule[4].status, rule[4].headers)
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                result = handler(body or {}, **match.groupdict())
                call.response = result
                if result is None:
                    return web.Response(status=204)
                return _json(result)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    async def _body(self, request: web.Request) -> tuple[Any, list[str]]:
        if request.content_type == "multipart/form-data":
            body: Any = None
            files: list[str] = []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append(part.filename or part.name or "")
                    await part.read()
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    def _routes(self) -> list[tuple[str, str, Any]]:
        app = r"(?P<app>\d+)"
        return [
            ("GET", r"/users/@me", lambda b: self.bot_user),
            (
                "GET",
                r"/oauth2/applications/@me",
                lambda b: P.application(self.application_id, self.bot_user),
            ),
            ("PUT", rf"/applications/{app}/guilds/(?P<guild>\d+)/commands", self._commands),
            ("PUT", rf"/applications/{app}/commands", self._commands),
            ("POST", r"/channels/(?P<cid>\d+)/typing", lambda b, cid: None),
            ("GET", r"/channels/(?P<cid>\d+)", self._get_channel),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._create_message),
            ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._edit_message),
            ("DELETE", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._delete_message),
            ("POST", r"/users/@me/channels", self._dm_channel),
            (
                "POST",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/threads",
                self._thread_from_message,
            ),
            ("POST", r"/channels/(?P<cid>\d+)/threads", self._thread),
            (
                "PUT",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me",
                lambda b, cid, mid, emoji: None,
            ),
            ("POST", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{app}/(?P<token>[^/]+)", self._followup),
            (
                "PATCH",
                rf"/webhooks/{app}/(?P<token>[^/]+)/messages/(?P<mid>[^/]+)",
                self._edit_webhook_message,
            ),
        ]

    # ---- handlers --------------------------------------------------------------------------
    def _commands(
        self, body: list[dict[str, Any]], app: str, guild: str = ""
    ) -> list[dict[str, Any]]:
        out = []
        for cmd in body or []:
            out.append(
                {
                    **cmd,
                    "id": self.ids.next(),
                    "application_id": app,
                    "version": self.ids.next(),
                    **({"guild_id": guild} if guild else {}),
                }
            )
        return out

    def _get_channel(self, body: Any, cid: str) -> dict[str, Any] | None:
        if cid not in self.channels:
            raise web.HTTPNotFound(
                body=json.dumps({"message": "Unknown Channel", "code": 10003}).encode(),
                headers={"Content-Type": "application/json"},
            )
        return self.channels[cid]

    def _store_message(
        self, cid: str, body: dict[str, Any], mid: str | None = None, flags: int = 0
    ) -> dict[str, Any]:
        channel = self.channels.get(cid, {})
        msg = P.message(
            mid or self.ids.next(),
            cid,
            channel.get("guild_id"),
            self.bot_user,
            body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=flags or body.get("flags") or 0,
            member=False,
        )
        self.messages[msg["id"]] = msg
        return msg

    def _create_message(self, body: dict[str, Any], cid: str) -> dict[str, Any]:
        nonce = (cid, str(body.get("nonce"))) if body.get("enforce_nonce") else None
        if nonce in self.nonces:  # as Discord: the message created with this nonce, not a new one
            return self.messages[self.nonces[nonce]]
        msg = self._store_message(cid, body)
        if nonce is not None:
            self.nonces[nonce] = msg["id"]
        return msg

    def _edit_message(self, body: dict[str, Any], cid: str, mid: str) -> dict[str, Any]:
        msg = self.messages.get(mid) or P.message(mid, cid, None, self.bot_user, "")
        msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
        self.messages[mid] = msg
        return msg

    def _delete_message(self, body: Any, cid: str, mid: str) -> None:
        self.messages.pop(mid, None)

    def _dm_channel(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /users/@me/channels: the DM channel with one user (created on first use)."""
        recipient = str(body.get("recipient_id", ""))
        cid = f"9{recipient}"
        channel = self.channels.get(cid) or {
            "id": cid,
            "type": 1,
            "last_message_id": None,
            "recipients": [{**self.bot_user, "id": recipient, "bot": False}],
        }
        self.channels[cid] = channel
        return channel

    def _thread_from_message(self, body: dict[str, Any], cid: str, mid: str) -> dict[str, Any]:
        if self.channels.get(mid, {}).get("type") == 11:  # as Discord: one thread per message
            raise web.HTTPBadRequest(
                body=json.dumps(
                    {
                        "message": "A thread has already been created for this message",
                        "code": 160004,
                    }  # fmt: skip
                ).encode(),
                headers={"Content-Type": "application/json"},
            )
        parent = self.channels.get(cid, {})
        thread = P.thread(
            mid, parent.get("guild_id", "0"), cid, self.bot_user["id"], body.get("name", "")
        )
        self.channels[thread["id"]] = thread
        return thread

    def _thread(self, body: dict[str, Any], cid: str) -> dict[str, Any]:
        parent = self.channels.get(cid, {})
        tid = self.ids.next()
        thread = P.thread(
            tid, parent.get("guild_id", "0"), cid, self.bot_user["id"], body.get("name", "")
        )
        self.channels[tid] = thread
        if parent.get("type") == 15:  # forum post: the starter message shares the thread's id
            thread = {
                **thread,
                "message": self._store_message(tid, body.get("message") or {}, mid=tid),
            }
        return thread

    def _callback(self, body: dict[str, Any], iid: str, token: str) -> dict[str, Any]:
        kind = body.get("type")
        data = body.get("data") or {}
        interaction: dict[str, Any] = {"id": iid, "type": 3}
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 7):
            mid = self.interaction_messages.get(token) if kind == 7 else None
            if mid and mid in self.messages:
                msg = self.messages[mid]
                msg.update(
                    {k: v for k, v in data.items() if k in ("content", "embeds", "components")}
                )
            else:
                msg = self._store_message("0", data, flags=data.get("flags") or 0)
                self.interaction_messages.setdefault(token, msg["id"])
            resource["message"] = msg
            interaction["response_message_id"] = msg["id"]
        if kind == 5:
            interaction["response_message_loading"] = True
            interaction["response_message_ephemeral"] = bool((data.get("flags") or 0) & 64)
        return {"interaction": interaction, "resource": resource}

    def _followup(self, body: dict[str, Any], app: str, token: str) -> dict[str, Any]:
        return self._store_message("0", body or {}, flags=(body or {}).get("flags") or 0)

    def _edit_webhook_message(
        self, body: dict[str, Any], app: str, token: str, mid: str
    ) -> dict[str, Any]:
        if mid == "@original":
            mid = self.interaction_messages.get(token, "")
        msg = self.messages.get(mid) or self._store_message("0", {})
        msg.update(
            {k: v for k, v in (body or {}).items() if k in ("content", "embeds", "components")}
        )
        return msg
