"""LangChain fake chat models with scripted outputs, recording every prompt they receive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class ScriptedChatModel(GenericFakeChatModel):
    """GenericFakeChatModel whose script may also hold exceptions; keeps the prompts it was sent."""

    prompts: list[list[BaseMessage]] = []

    def __init__(self, script: list[Any], **kwargs: Any) -> None:
        super().__init__(messages=iter(script), prompts=[], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.prompts.append(list(messages))
        item = next(self.messages)
        if isinstance(item, BaseException):
            raise item
        message = AIMessage(content=item) if isinstance(item, str) else item
        return ChatResult(generations=[ChatGeneration(message=message)])

    @property
    def calls(self) -> int:
        """How many times the model was invoked."""
        return len(self.prompts)

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of one call, joined."""
        return "\n".join(str(m.content) for m in self.prompts[index])


def with_usage(text: str, prompt_tokens: int = 50, completion_tokens: int = 20) -> AIMessage:
    """An AIMessage carrying usage_metadata, as real providers return."""
    return AIMessage(
        content=text,
        usage_metadata={
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    )


def endless(items: list[Any]) -> Iterator[Any]:
    """Repeat the last scripted item forever (for flows with an unknown number of calls)."""
    yield from items[:-1]
    while True:
        yield items[-1]
