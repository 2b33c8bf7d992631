"""What a hostile or broken client can send the HTTP adapter: a clear 4xx, never a stuck thread."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, select

from bot.models import Message
from tests.slack.conftest import HELP_CHANNEL, Harness, http_post, new_ts, sign, unique
from tests.slack.test_flows import posts


@pytest.fixture
def server(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    from bot.slack import make_http_server
    from bot.slack import server as server_module

    monkeypatch.setattr(server_module._Handler, "timeout", 1.0)  # half-sent requests give up fast
    httpd = make_http_server(harness.bolt, "127.0.0.1", 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host, port = httpd.server_address[:2]
    yield str(host), int(port)
    httpd.shutdown()
    httpd.server_close()


def raw_request(
    address: tuple[str, int], head: bytes, body: bytes = b"", wait: float = 10
) -> bytes:
    """Send bytes over a socket and read whatever comes back until the server closes."""
    with socket.create_connection(address, timeout=wait) as sock:
        sock.sendall(head + body)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


def post_head(length: str | None, extra: str = "") -> bytes:
    lines = ["POST /slack/events HTTP/1.1", "Host: x", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + extra + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), (None, 411), ("150000000", 413)],
)
def test_content_length_is_checked_not_trusted(
    server: tuple[str, int], length: str | None, status: int
) -> None:
    response = raw_request(server, post_head(length), b'{"type":"event_callback"}')
    assert status_of(response) == status
    assert b"Traceback" not in response and b"\r\n\r\n" in response  # a reason, then close


def test_a_body_shorter_than_announced_times_out_with_408(server: tuple[str, int]) -> None:
    response = raw_request(server, post_head("1000"), b'{"type":')
    assert status_of(response) == 408


def test_half_sent_requests_do_not_pin_the_server(
    harness: Harness, server: tuple[str, int]
) -> None:
    stalled = [socket.create_connection(server, timeout=10) for _ in range(40)]
    for sock in stalled:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le")
    channel, ts = unique("C"), new_ts()
    body = harness.event_body(
        harness.message_event("<@UBOT> hi", channel, ts=ts, kind="app_mention")
    )
    url = f"http://{server[0]}:{server[1]}/slack/events"
    status, _ = http_post(url, body, {"Content-Type": "application/json", **sign(body)})
    assert status == 200  # served while 40 connections dangle
    closed = 0
    for sock in stalled:  # each is dropped by the server after its read timeout
        try:
            closed += sock.recv(1024) is not None
        except TimeoutError:
            pass
        finally:
            sock.close()
    assert closed == len(stalled)


@pytest.mark.parametrize("signed", [False, True])
def test_malformed_bodies_get_400(harness: Harness, server: tuple[str, int], signed: bool) -> None:
    url = f"http://{server[0]}:{server[1]}/slack/events"
    for body, ctype in [
        ('{"type": "event_callback", "event": {', "application/json"),
        (urlencode({"payload": "{not json"}), "application/x-www-form-urlencoded"),
    ]:
        headers = {"Content-Type": ctype, **(sign(body) if signed else {})}
        status, text = http_post(url, body, headers)
        assert status == 400 and "malformed request body" in text


def test_invalid_utf8_and_lone_surrogates_are_cleaned_stored_and_answered(
    harness: Harness, server: tuple[str, int]
) -> None:
    url = f"http://{server[0]}:{server[1]}/slack/events"
    user = unique("U")
    ts_bytes, ts_escape = new_ts(), new_ts()
    # 1. raw bytes that are not UTF-8, correctly signed (the signature covers the raw bytes)
    event = harness.message_event("how do I reset my password? XX", HELP_CHANNEL, user, ts_bytes)
    raw = harness.event_body(event).encode().replace(b"XX", b"\xff\xfe")
    stamp = str(int(time.time()))
    from bot.slack.server import _signature

    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": _signature("test-signing-secret", stamp, raw)}  # fmt: skip
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST /slack/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{head}"
        f"Content-Length: {len(raw)}\r\n\r\n"
    ).encode()
    assert status_of(raw_request(server, request, raw)) == 200
    forged = request.replace(headers["X-Slack-Signature"].encode(), b"v0=" + b"0" * 64)
    assert status_of(raw_request(server, forged, raw)) == 401
    # 2. a JSON escape for a lone surrogate, which no UTF-8 encoder accepts
    event = harness.message_event("how do I reset my password? YY", HELP_CHANNEL, user, ts_escape)
    body = harness.event_body(event).replace("YY", "\\ud800")
    assert json.loads(body)["event"]["text"].endswith("\ud800")
    status, _ = http_post(url, body, {"Content-Type": "application/json", **sign(body)})
    assert status == 200
    harness.idle()
    for ts in (ts_bytes, ts_escape):
        assert len(posts(harness, HELP_CHANNEL, ts)) == 1
    with Session(harness.deskhand.engine) as session:
        stored = {
            m.platform_message_id: m.text
            for m in session.exec(
                select(Message).where(Message.author_id == user, Message.role == "member")
            )
        }
    assert stored[ts_bytes].endswith("\ufffd\ufffd") and stored[ts_escape].endswith("\ufffd")


def test_a_draining_server_answers_503(harness: Harness, server: tuple[str, int]) -> None:
    from bot.slack import server as server_module

    url = f"http://{server[0]}:{server[1]}"
    body = harness.event_body(harness.message_event("<@UBOT> hi", unique("C"), kind="app_mention"))
    try:
        server_module.SlackHttpServer.draining = True
        status, _ = http_post(url + "/slack/events", body, {"Content-Type": "application/json",
                                                            **sign(body)})  # fmt: skip
        assert status == 503
    finally:
        server_module.SlackHttpServer.draining = False
