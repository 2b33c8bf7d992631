"""The fake Discord API plus a fake gateway (websocket) on the same port, for a real bot process.

Speaks just enough of gateway v10 for discord.py: HELLO, IDENTIFY → READY + GUILD_CREATE,
heartbeat ACKs, and DISPATCH events the test pushes (uncompressed JSON text frames).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord import payloads as P
from tests.discord.fake_api import FakeDiscord


class FakeGateway(FakeDiscord):
    """FakeDiscord with a gateway endpoint at ws://127.0.0.1:PORT/gateway."""

    def __init__(
        self, ids: P.Ids, bot_user: dict[str, Any], application_id: str, guild: dict[str, Any]
    ) -> None:
        super().__init__(ids, bot_user, application_id)
        self.guild = guild
        self.socket: web.WebSocketResponse | None = None
        self.sequence = 0
        self.identified = 0  # sessions opened so far (one per process start)
        self._ready = asyncio.Event()

    async def start(self) -> str:
        """Listen on a free loopback port: REST under /api/v10, the gateway at /gateway."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base

    @property
    def gateway_url(self) -> str:
        """What discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY must be set to."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def wait_session(self, sessions: int, timeout: float) -> None:
        """Until the bot has identified `sessions` times in all and got READY."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.identified < sessions or not self._ready.is_set():
            if loop.time() > deadline:
                raise AssertionError(f"no gateway session #{sessions} within {timeout} s")
            await asyncio.sleep(0.1)

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send one DISPATCH to the connected bot; False when no session is open."""
        socket = self.socket
        if socket is None or socket.closed:
            return False
        self.sequence += 1
        try:
            await socket.send_str(json.dumps({"op": 0, "t": event, "s": self.sequence, "d": data}))
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._ready.clear()
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if message.get("op") == 1:  # heartbeat
                await socket.send_str(json.dumps({"op": 11}))
            elif message.get("op") == 2:  # identify: a new session, as after every process start
                self.identified += 1
                self.socket, self.sequence = socket, 0
                await self.dispatch("READY", self._ready_payload())
                await self.dispatch("GUILD_CREATE", self.guild)
                self._ready.set()
            elif message.get("op") == 6:  # resume: not offered, start over
                await socket.send_str(json.dumps({"op": 9, "d": False}))
        if self.socket is socket:
            self.socket = None
        return socket

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": self.guild["id"], "unavailable": True}],
            "session_id": f"session-{self.identified}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
