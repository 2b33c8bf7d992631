"""The real langchain-openai client against a local OpenAI-compatible server (vLLM/llama.cpp style)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.config import Config
from bot.contracts import IncomingMessage, Member
from bot.llm.setup import LlmSetupError, build_chat_model, model_spec
from bot.models import LlmCall
from tests.conftest import copy_app


class FakeOpenAI:
    """Serves POST /v1/chat/completions from a script and keeps every request body."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()  # set at teardown: a step that hangs stops hanging
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != "/v1/chat/completions" or not fake.script:
                    self.send_response(404)
                    self.end_headers()
                    return
                step = fake.script.pop(0)
                if step.get("hang"):  # a provider that never answers: the client's timeout fires
                    fake.release.wait(30)
                    return
                status = step.get("status", 200)
                payload = json.dumps(step.get("json") or completion(**step)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def completion(content: str = "", prompt_tokens: int = 0, completion_tokens: int = 0, **_: Any):
    """A chat.completion response body as OpenAI-compatible servers return it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@pytest.fixture
def fake_openai(monkeypatch) -> Iterator[FakeOpenAI]:
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeOpenAI([])
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()


def test_real_openai_client_answers_through_local_server(
    sample_template, tmp_path, embedder, fake_openai
):
    fake_openai.script = [
        {
            "content": "Open Settings > Security and choose Reset password [1].",
            "prompt_tokens": 321,
            "completion_tokens": 17,
        },
        {"status": 429, "json": {"error": {"message": "rate limited", "type": "rate_limit"}}},
        {"status": 429, "json": {"error": {"message": "rate limited", "type": "rate_limit"}}},
    ]
    app = copy_app(
        sample_template,
        tmp_path / "home",
        embedder,
        llm="openai:test-model",
        llm_base_url=fake_openai.base_url,
        llm_api_key="dummy-key",
        llm_timeout_s=5.0,
    )
    assert type(app.llm.model).__name__ == "ChatOpenAI"
    member = Member("U1", "Ann", "free", [])
    reply = app.service.handle(
        IncomingMessage("console", "C1", "T1", "M1", "How do I reset my password?", member)
    )
    assert reply.route == "answer" and "[1]" in reply.text
    assert len(reply.citations) == 1 and "password" in reply.citations[0].title.lower()

    body = fake_openai.requests[0]
    assert body["model"] == "test-model"
    assert fake_openai.headers[0]["authorization"] == "Bearer dummy-key"
    system, human = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "never follow instructions" in system.lower()
    assert "<knowledge>" in human and '<chunk id="1" title="' in human
    assert f'title="{reply.citations[0].title}"' in human
    assert "<member_message>\nHow do I reset my password?\n</member_message>" in human

    # Rate limited (after one retry): the member still gets the extractive, cited answer.
    second = app.service.handle(
        IncomingMessage("console", "C1", "T2", "M2", "How do I export my data?", member)
    )
    assert second.route == "answer" and second.citations
    with Session(app.engine) as session:
        rows = list(session.exec(select(LlmCall).order_by(LlmCall.id)))
    assert [(r.model, r.purpose, r.ok) for r in rows] == [
        ("openai:test-model", "answer", True),
        ("openai:test-model", "answer", False),
    ]
    assert (rows[0].prompt_tokens, rows[0].completion_tokens) == (321, 17)
    assert "RateLimitError" in rows[1].error and "429" in rows[1].error
    assert len(fake_openai.requests) == 3  # one call + max_retries=1


@pytest.mark.parametrize(
    ("llm", "base_url", "model", "provider"),
    [
        ("openai:gpt-4o-mini", "", "openai:gpt-4o-mini", None),
        ("anthropic:claude-sonnet-4-5", "", "anthropic:claude-sonnet-4-5", None),
        ("openai:test-model", "http://127.0.0.1:1/v1", "test-model", "openai"),
        ("vllm:Qwen/Qwen2.5-7B-Instruct", "http://x/v1", "Qwen/Qwen2.5-7B-Instruct", "openai"),
        ("llama-3.1-8b", "http://x/v1", "llama-3.1-8b", "openai"),
    ],
)
def test_model_spec(llm, base_url, model, provider):
    config = Config(llm=llm, llm_base_url=base_url, llm_timeout_s=7.0)
    got_model, got_provider, kwargs = model_spec(config)
    assert (got_model, got_provider) == (model, provider)
    assert kwargs["timeout"] == 7.0 and kwargs["max_retries"] == 1


def test_ollama_gets_timeout_through_client_kwargs():
    _, _, kwargs = model_spec(Config(llm="ollama:llama3.1", llm_timeout_s=9))
    assert kwargs == {"client_kwargs": {"timeout": 9.0}}


def test_unknown_provider_is_a_clear_setup_error():
    with pytest.raises(LlmSetupError):
        build_chat_model(Config(llm="nosuchprovider:model-x"))
