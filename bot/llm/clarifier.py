"""LlmClarifier: phrases the clarifying question from the candidate topics; raises to fall back."""

from __future__ import annotations

from typing import Any

from bot.llm.prompts import NO_ANSWER, clarify_messages
from bot.llm.recorder import LlmRecorder, MalformedOutput, describe

MAX_QUESTION_CHARS = 400


class LlmClarifier:
    """Callable(query, option_labels, persona) -> question; any failure raises so the graph
    asks its plain question instead (the options and buttons come from the graph either way)."""

    def __init__(self, model: Any, recorder: LlmRecorder) -> None:
        self.model = model
        self.recorder = recorder

    def __call__(self, query: str, labels: list[str], persona: dict[str, Any]) -> str:
        """One call; reject empty, overlong or link-bearing output."""
        result = self.recorder.invoke(
            self.model, clarify_messages(query, labels, persona), "clarify"
        )
        text = result.text.strip().strip('"').strip()
        problem = ""
        if not text or NO_ANSWER in text:
            problem = "empty question"
        elif len(text) > MAX_QUESTION_CHARS:
            problem = "question too long"
        elif "http://" in text or "https://" in text:
            problem = "question contains a link"
        if problem:
            error = MalformedOutput(problem)
            self.recorder.mark(result.call_id, ok=False, error=describe(error))
            raise error
        return text
