"""LlmRecorder: every model call goes through here, so each one leaves an LlmCall row."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import LlmCall

log = logging.getLogger(__name__)


# the conversation a graph run serves, so model calls deep inside nodes are attributed to it
_conversation: ContextVar[int | None] = ContextVar("deskhand_conversation", default=None)


@contextmanager
def conversation_scope(conversation_id: int | None) -> Iterator[None]:
    """Attribute every model call made inside this block to one conversation (for cost per chat)."""
    token = _conversation.set(conversation_id)
    try:
        yield
    finally:
        _conversation.reset(token)


class MalformedOutput(ValueError):
    """The provider answered, but not in a shape we can use."""


@dataclass
class CallResult:
    """What came back from one call, with its recorded cost."""

    text: str
    message: AIMessage
    call_id: int | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float

    @property
    def tokens(self) -> dict[str, int]:
        """Token counts for draft metadata."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


def usage_of(message: Any) -> tuple[int, int]:
    """Prompt and completion tokens from LangChain's usage_metadata (or the raw provider usage)."""
    usage = getattr(message, "usage_metadata", None) or {}
    if usage:
        return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    raw = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
    return int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0)


def text_of(message: Any) -> str:
    """The text of a reply, whether content is a string or a list of content blocks."""
    if not isinstance(message, BaseMessage):
        raise MalformedOutput(f"unexpected reply type {type(message).__name__}")
    text = message.text
    return text if isinstance(text, str) else str(text)


class LlmRecorder:
    """Invokes a chat model, timing it and writing model, purpose, tokens and outcome to SQL."""

    def __init__(self, engine: Engine | None, model_name: str) -> None:
        self.engine = engine
        self.model_name = model_name

    def invoke(
        self,
        model: Any,
        messages: Sequence[BaseMessage],
        purpose: str,
        conversation_id: int | None = None,
    ) -> CallResult:
        """Call the model once; record success or failure; re-raise failures for the caller."""
        started = time.perf_counter()
        try:
            message = model.invoke(list(messages))
            text = text_of(message)
        except Exception as exc:
            self.record(
                purpose,
                latency_ms=(time.perf_counter() - started) * 1000,
                ok=False,
                error=describe(exc),
                conversation_id=conversation_id,
            )
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        prompt_tokens, completion_tokens = usage_of(message)
        call_id = self.record(
            purpose,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=latency_ms,
            conversation_id=conversation_id,
        )
        return CallResult(text, message, call_id, prompt_tokens, completion_tokens, latency_ms)

    def record(
        self,
        purpose: str,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        latency_ms: float = 0.0,
        ok: bool = True,
        error: str = "",
        conversation_id: int | None = None,
    ) -> int | None:
        """Write one LlmCall row; a recording failure is logged, never raised into a reply."""
        if self.engine is None:
            return None
        row = LlmCall(
            model=self.model_name,
            purpose=purpose,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_ms=round(latency_ms, 2),
            ok=ok,
            error=error[:500],
            conversation_id=conversation_id if conversation_id is not None else _conversation.get(),
        )
        try:
            with Session(self.engine) as session:
                session.add(row)
                session.commit()
                return row.id
        except Exception:
            log.exception("could not record LLM call (%s)", purpose)
            return None

    def mark(self, call_id: int | None, ok: bool, error: str) -> None:
        """Annotate a recorded call after validating its output (malformed, ungrounded)."""
        if self.engine is None or call_id is None:
            return
        try:
            with Session(self.engine) as session:
                row = session.get(LlmCall, call_id)
                if row is not None:
                    row.ok = ok
                    row.error = error[:500]
                    session.add(row)
                    session.commit()
        except Exception:
            log.exception("could not annotate LLM call %s", call_id)


def describe(exc: BaseException) -> str:
    """Error class and message, short enough for a table column."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:300]}" if message else type(exc).__name__
