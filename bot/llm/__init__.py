"""LLM mode: grounded answers, clarifying questions, handoff notes and agent assist from any provider.

Classification always stays local (the embedding classifier); the model is called at most once
per answered message.
"""

from bot.llm.answerer import LlmAnswerer, check_answer
from bot.llm.assist import classify_staff_reply, record_assist_use, suggest_reply
from bot.llm.clarifier import LlmClarifier
from bot.llm.handoff import HandoffNotes, LlmHandoffAnalyst, LlmSummariser, heuristic_card
from bot.llm.recorder import LlmRecorder
from bot.llm.setup import LlmRuntime, LlmSetupError, build_chat_model, enable_llm

__all__ = [
    "HandoffNotes",
    "LlmAnswerer",
    "LlmClarifier",
    "LlmHandoffAnalyst",
    "LlmRecorder",
    "LlmRuntime",
    "LlmSetupError",
    "LlmSummariser",
    "build_chat_model",
    "check_answer",
    "classify_staff_reply",
    "enable_llm",
    "heuristic_card",
    "record_assist_use",
    "suggest_reply",
]
